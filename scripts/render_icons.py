"""Draws the app icons (cradle/static/cradle/icons/) from the favicon's shapes: a baby's head over a cradle.

Run again after changing the design: `.venv/bin/python scripts/render_icons.py`. "maskable" icons keep the drawing
inside the middle 80 %, which every home-screen mask leaves visible.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "cradle" / "static" / "cradle" / "icons"
BLUE = (44, 110, 143, 255)
WHITE = (255, 255, 255, 255)


def draw(size: int, maskable: bool) -> Image.Image:
    """The favicon (a 32-unit square) at `size` pixels, four times oversampled for smooth edges."""
    big = size * 4
    image = Image.new("RGBA", (big, big), BLUE if maskable else (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    unit = big / 32
    if not maskable:
        pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=7 * unit, fill=BLUE)
    # Inside the safe zone of a maskable icon the drawing is scaled down around the centre.
    k = 0.72 if maskable else 1.0
    centre = big / 2

    def at(x: float, y: float) -> tuple[float, float]:
        return centre + (x - 16) * unit * k, centre + (y - 16) * unit * k

    x0, y0 = at(7, 8)
    x1, y1 = at(25, 26)
    pen.pieslice((x0, y0, x1, y1), 0, 180, fill=WHITE)  # the cradle: a half disc below y = 17
    cx0, cy0 = at(12, 8)
    cx1, cy1 = at(20, 16)
    pen.ellipse((cx0, cy0, cx1, cy1), fill=WHITE)  # the head
    return image.resize((size, size), Image.LANCZOS)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        draw(size, False).save(OUT / f"icon-{size}.png", optimize=True)
    draw(512, True).save(OUT / "maskable-512.png", optimize=True)
    for path in sorted(OUT.iterdir()):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
