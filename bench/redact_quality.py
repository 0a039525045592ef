"""Print redaction quality on the synthetic bed set: PHI line coverage, OCR leaks and over-masking."""

from __future__ import annotations

import argparse
import time

from cradle.media.quality import redact_scene, score_scene, synthetic_scenes, tesseract_available, total
from cradle.media.redact import CameraPolicy, DetectorPool
from cradle.media.sim import SimCamera


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mask", choices=["fill", "pixelate"], default="fill")
    args = parser.parse_args()
    ocr = tesseract_available()
    policy = CameraPolicy(mask=args.mask)
    print(
        f"scenes: {len(synthetic_scenes())} (zh+en, 8 fonts, ±10° card, JPEG q30-60), mask={args.mask}, "
        f"OCR check: {'tesseract chi_sim+eng' if ocr else 'skipped (tesseract missing)'}"
    )
    rows = {"redacted": [], "unredacted": []}
    started = time.perf_counter()
    with DetectorPool(workers=2) as pool:
        for settings in synthetic_scenes():
            camera = SimCamera(settings)
            for label, mode in (("redacted", "redact"), ("unredacted", "raw")):
                sims, out = redact_scene(camera, pool, mode, policy)
                score = score_scene(camera, sims, out, ocr=ocr)
                rows[label].append(score)
                font = settings.font.rsplit("/", 1)[-1]
                print(
                    f"  {label:10} {settings.lang} {font:28} angle {settings.card_angle:+5.1f} "
                    f"jpeg {settings.jpeg_quality or '-':>3}  lines {score.destroyed}/{score.lines} destroyed  "
                    f"OCR leaks {len(score.leaked)}/{score.tokens} {score.leaked if score.leaked else ''}"
                )
    for label, scores in rows.items():
        s = total(scores)
        over = (s.masked_px - s.phi_px) / max(1, s.frames) / (640 * 480)
        print(
            f"{label}: PHI lines destroyed {s.destroyed}/{s.lines} = {100 * s.destroyed / s.lines:.1f} %; "
            f"OCR leaked tokens {len(s.leaked)}/{s.tokens}; infant untouched "
            f"{100 * s.infant_untouched_px / max(1, s.infant_px):.1f} %; masked area beyond PHI boxes "
            f"{100 * max(0.0, over):.1f} % of frame; privacy screens {s.screened}/{s.frames}"
        )
    print(f"elapsed {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
