"""Print redaction quality on random ward scenes, per clip and per generator axis.

Report on the held-out draws (the default): seeds and typefaces never used for tuning. `--split tuning` runs the
tuning draws instead. Each clip passes when >= 0.99 of its PHI pixels are masked, Tesseract reads no PHI token on
its worst frame, and >= 0.95 of the infant's uncovered pixels are untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests/

from cradle.media.redact import CameraPolicy, DetectorPool, load_policy
from cradle.media.scenes import HELD_OUT_FONTS, HELD_OUT_SEEDS, TUNING_SEEDS, SceneDraw, draw_scene
from tests.quality import ClipScore, run_clip, tesseract_available


def _axes(d: SceneDraw) -> dict[str, str]:
    size = "<=12px" if d.type_px <= 12 else "13-18px" if d.type_px <= 18 else ">18px"
    return {
        "resolution": f"{d.width}x{d.height}",
        "language": d.lang,
        "family": d.family,
        "typeface": "held-out" if d.font in HELD_OUT_FONTS else "tuning",
        "type size": size,
        "rotation": "<5°" if abs(d.angle) < 5 else "5-10°" if abs(d.angle) < 10 else "10-15°",
        "light": d.light,
        "contrast": "low" if d.contrast < 0.8 else "full",
        "glare": "yes" if d.glare else "no",
        "noise": "<4" if d.noise < 4 else "4-8" if d.noise < 8 else ">=8",
        "jpeg": "yes" if d.jpeg else "no",
        "card": d.card_event,
        "monitor": d.monitor,
        "stickers": str(d.stickers),
    }


def _row(label: str, scores: list[ClipScore]) -> str:
    phi = sum(s.phi_masked_px for s in scores) / max(1, sum(s.phi_px for s in scores))
    infant = sum(s.infant_untouched_px for s in scores) / max(1, sum(s.infant_px for s in scores))
    passed = sum(s.passes for s in scores)
    leaks = sum(bool(s.leaked) for s in scores)
    screened = sum(s.screened for s in scores) / max(1, sum(s.frames for s in scores))
    worst_phi = min(s.phi_share for s in scores)
    worst_infant = min(s.infant_share for s in scores)
    return (
        f"  {label:22} {len(scores):4d}  {passed:4d}  {100 * phi:7.2f} %  {100 * worst_phi:7.2f} %"
        f"  {leaks:5d}  {100 * infant:7.2f} %  {100 * worst_infant:7.2f} %  {100 * screened:5.1f} %"
    )


def _matching(split: range, first: int, clips: int, where: str) -> list[int]:
    """The first `clips` seeds of `split` from `first` on whose draws match `where` (all of them when empty)."""
    tests = []
    for term in filter(None, where.split(",")):
        for op in ("<", ">", "="):
            if op in term:
                name, value = term.split(op, 1)
                tests.append((name.strip(), op, value.strip()))
                break
        else:
            raise SystemExit(f"--where: {term!r} is not field=value, field<number or field>number")

    def matches(draw: SceneDraw) -> bool:
        for name, op, value in tests:
            if not hasattr(draw, name):
                raise SystemExit(f"--where: a scene draw has no field {name!r}")
            have = getattr(draw, name)
            if op == "=" and str(have) not in value.split("|"):
                return False
            if op in "<>" and not (have < float(value) if op == "<" else have > float(value)):
                return False
        return True

    out = []
    for seed in split[first:]:
        if len(out) == clips:
            break
        if not tests or matches(draw_scene(seed)):
            out.append(seed)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=["held-out", "tuning"], default="held-out")
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--first", type=int, default=0, help="offset into the split's seeds")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--camera-config", help="JSON camera configuration to redact with (default: the defaults)")
    parser.add_argument("--no-ocr", action="store_true")
    parser.add_argument("--raw", action="store_true", help="also OCR the unredacted frame (is the text readable?)")
    parser.add_argument("--json", type=Path, help="write every clip's figures here")
    parser.add_argument(
        "--where",
        default="",
        help="only draws of one kind, e.g. light=night,card_event=move|slide,width=640 (SceneDraw fields; a number "
        "field given as a bound: contrast<0.5); the split's seeds from --first on are drawn until --clips match",
    )
    args = parser.parse_args()
    split = HELD_OUT_SEEDS if args.split == "held-out" else TUNING_SEEDS
    seeds = _matching(split, args.first, args.clips, args.where)
    ocr = tesseract_available() and not args.no_ocr
    policy = load_policy(args.camera_config) if args.camera_config else CameraPolicy()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{len(seeds)} {args.split} clips of {args.frames} frames from seed {seeds[0]}"
        f"{' where ' + args.where if args.where else ''}; "
        f"OCR: {'tesseract chi_sim+eng' if ocr else 'skipped'}; load average {load}"
    )
    started = time.perf_counter()
    scores: list[ClipScore] = []
    with DetectorPool(workers=2) as pool:
        for seed in seeds:
            score = run_clip(draw_scene(seed, frames=args.frames), pool, policy, ocr, args.raw)
            scores.append(score)
            raw = "" if score.readable_raw is None else f" raw-readable {len(score.readable_raw)}"
            print(
                f"{'ok  ' if score.passes else 'FAIL'} {seed} {score.draw.label()}: PHI {100 * score.phi_share:.2f} %"
                f" (worst frame {100 * score.worst_frame:.1f} %), infant {100 * score.infant_share:.1f} %, "
                f"screened {score.screened}/{score.frames}, det {score.detections}, leaked {score.leaked}{raw}, "
                f"{score.seconds:.1f} s",
                flush=True,
            )
    print("\nper axis (pixel-weighted PHI masked and infant untouched; min = worst clip)")
    print("  axis value             clips  pass  PHI mask   min clip  leaks   infant   min clip  screens")
    print(_row("all", scores))
    groups: dict[tuple[str, str], list[ClipScore]] = defaultdict(list)
    for s in scores:
        for axis, value in _axes(s.draw).items():
            groups[(axis, value)].append(s)
    for (axis, value), group in sorted(groups.items()):
        print(_row(f"{axis}={value}", group))
    print(f"elapsed {time.perf_counter() - started:.0f} s")
    if args.json:
        rows = [
            {
                "seed": s.draw.seed,
                "label": s.draw.label(),
                "passes": s.passes,
                "phi": s.phi_share,
                "worst_frame": s.worst_frame,
                "infant": s.infant_share,
                "leaked": s.leaked,
                "screened": s.screened,
            }
            for s in scores
        ]
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
