"""Renders the words of the privacy screens (cradle/media/screens/*.png) once, so that the pipeline needs no fonts.

Each screen says what is happening in English and in Simplified Chinese, since a picture has no reader's language:
the player covers it with the viewer's own words when it knows, but a kept clip or keepsake shows it as it is.
Run again after changing the words below: `.venv/bin/python scripts/render_screen_words.py` (needs fonts-noto-cjk).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
OUT = Path(__file__).resolve().parents[1] / "cradle" / "media" / "screens"
WIDTH = 1200
# Two lines each: English, then Chinese.
WORDS = {
    "checking": ("The picture is being checked", "画面正在检查中"),
    "paused": ("The nurse has paused the camera", "护士已暂停摄像头"),
    "no_picture": ("No picture from the camera", "摄像头暂时没有画面"),
}


def render(lines: tuple[str, str], font_path: str) -> Image.Image:
    """White words on black, each line as wide as it can be within WIDTH, centred."""
    sizes = (64, 72)
    fonts = [ImageFont.truetype(font_path, size) for size in sizes]
    boxes = [font.getbbox(line) for font, line in zip(fonts, lines, strict=True)]
    gap = 36
    height = sum(b[3] - b[1] for b in boxes) + gap + 24
    image = Image.new("L", (WIDTH, height), 0)
    draw = ImageDraw.Draw(image)
    y = 12
    for font, line, box in zip(fonts, lines, boxes, strict=True):
        w = box[2] - box[0]
        if w > WIDTH:
            raise SystemExit(f"{line!r} is wider than {WIDTH} px; shorten it or lower its size.")
        draw.text(((WIDTH - w) // 2 - box[0], y - box[1]), line, fill=255, font=font)
        y += box[3] - box[1] + gap
    return image


def main() -> int:
    if not Path(FONT).exists():
        print(f"{FONT} is missing; install fonts-noto-cjk.", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    for name, lines in WORDS.items():
        image = render(lines, FONT)
        bbox = image.getbbox()
        cropped = image.crop((0, max(0, bbox[1] - 8), WIDTH, min(image.height, bbox[3] + 8)))
        cropped.save(OUT / f"{name}.png", optimize=True)
        print(f"{OUT / name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
