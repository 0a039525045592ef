"""Print how well leak tracing names the leaker under the threat model, per class, against 10,000 stored clips.

The store holds the fingerprints of a few real simulated clips (segmented, marked and encoded as the worker does) and of
10,000 synthetic clips of 30 segments whose thumbnails are smooth random scenes drifting slowly from second to second.
Each drill gives ten sessions their own random variants, builds the leaking session's copy (or two or three colluders'
copies) from the served segments, re-publishes it as bench/threat_model.py draws it, and traces it. Controls must name
nobody: unmarked copies, footage that never came from Cradle, another bed's camera, and innocent accounts (every drill's
bits are also scored against 100 made-up accounts that never had the copy). Seeds of the tuning set and of the held-out
report set never overlap; figures are reported on the held-out set.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pickle
import platform
import pstats
import statistics
import sys
import time
from collections import defaultdict
from fractions import Fraction

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from threat_model import CLASSES, HELD_OUT, draw, foreign_clip

from cradle.media.fingerprint import _WEIGHTS, POSITIONS, THUMB_SIZE, FingerprintIndex, fingerprint_segment
from cradle.media.frames import SafeFrame
from cradle.media.hls import SegmentWriter, decode
from cradle.media.mark import ALPHA, MARK_UNITS, Variant
from cradle.media.sim import SimCamera, SimSettings
from cradle.media.trace import attribute, decide, score
from cradle.media.trace import trace as _trace
from cradle.media.trace.attribution import GRADED_P
from cradle.media.trace.collusion import find_colluders, member_bound

KEY = bytes(range(32))
FPS = 15
CLIP_SECONDS = 40  # a 15 s copy at twice the speed needs 30 s of source
SESSIONS = 10
INNOCENTS = 100  # made-up accounts per drill that never had the copy
SEEDS = (21, 34)
OTHER_BED = 57  # a camera whose clips are not in the store
# The stages of a trace whose time --stages prints (cumulative: a stage's time includes the stages it calls).
STAGES = (
    ("fingerprint search", "cradle/media/fingerprint.py", "search"),
    ("framings probed", "cradle/media/trace/framing.py", "framings"),
    ("time mapping", "cradle/media/trace/mapping.py", "map_time"),
    ("  line fit", "cradle/media/trace/mapping.py", "_best_line"),
    ("  frame path", "cradle/media/trace/frame_path.py", "follow"),
    ("alignment", "cradle/media/trace/timing.py", "align"),
    ("  registration refined", "cradle/media/trace/registration.py", "refine_homography"),
    ("  re-timed pieces", "cradle/media/trace/search.py", "_timed"),
    ("reading", "cradle/media/trace/reading.py", "read_bits"),
)


def sources_of(alpha: float, cache: str | None) -> tuple[dict, dict]:
    """The stored clips (their variants and unmarked frames) and their reference frames, rendered once per cache."""
    sources, references = {}, {}
    for seed in SEEDS:
        path = os.path.join(cache, f"clip-{seed}-{alpha}-units.pickle") if cache else None
        if path and os.path.exists(path):
            with open(path, "rb") as kept:
                made, plain = pickle.load(kept), None  # the unmarked frames are made again when a control needs them
        else:
            made, plain = render(seed, alpha)
            if path:
                os.makedirs(cache, exist_ok=True)
                with open(path, "wb") as kept:
                    pickle.dump(made, kept)
        # Per segment, per mark unit: the frames of variant A and of variant B.
        units = {s.index: [(decode(a), decode(b)) for a, b in s.units] for s in made}
        sources[f"clip-{seed}"] = {"variants": units, "plain": plain}
        references.update({(f"clip-{seed}", s.index): decode(s.reference) for s in made})
    return sources, references


def drill(kind: str, seed: int, sources: dict, seconds: float | None = None) -> tuple:
    """One drill: the source, the sessions' codewords, the leakers, the threat drawn and the suspect it made; `seconds`
    sets the suspect's length (the short class draws its own)."""
    rng = np.random.default_rng([seed, 1 + CLASSES.index(kind)])
    source = list(sources)[seed % len(sources)]
    variants = sources[source]["variants"]
    codewords = {
        f"session-{s}": {(source, i): _choice(rng, len(u)) for i, u in variants.items()} for s in range(SESSIONS)
    }
    threat = draw(kind, seed, CLIP_SECONDS) if seconds is None else draw(kind, seed, CLIP_SECONDS, seconds)
    leakers = [f"session-{s}" for s in rng.choice(SESSIONS, threat.accounts, replace=False)]
    copies = [
        [f for i in sorted(variants) for u, v in enumerate(codewords[a][(source, i)]) for f in variants[i][u][v]]
        for a in leakers
    ]
    suspect, fps = threat.make(copies, rng)
    return source, codewords, leakers, threat, suspect, fps, rng


def camera(seed: int, seconds: int) -> list[np.ndarray]:
    sim = SimCamera(SimSettings(bed=f"bed-{seed}", lang="en", seed=seed, fps=FPS))
    return [sim.frame(i).image for i in range(seconds * FPS)]


def render(seed: int, alpha: float = ALPHA) -> tuple[list, list[np.ndarray]]:
    """Segments of one simulated clip and its unmarked frames."""
    writer = SegmentWriter(KEY, f"clip-{seed}", 640, 480, FPS, alpha=alpha)
    plain = camera(seed, CLIP_SECONDS)
    made = []
    for i, image in enumerate(plain):
        made += writer.write(SafeFrame(image, i, i * 6000, Fraction(1, 90000), 0.0, False))
    return made + writer.close(), plain


def synthetic_store(index: FingerprintIndex, clips: int, segments: int, rng: np.random.Generator) -> None:
    """Fingerprints of `clips` made-up scenes: smooth random pictures that drift a little from segment to segment."""
    width, height = THUMB_SIZE
    up_y = cv2.resize(np.eye(3, dtype=np.float32), (3, height), interpolation=cv2.INTER_LINEAR)
    up_x = cv2.resize(np.eye(4, dtype=np.float32), (width, 4), interpolation=cv2.INTER_LINEAR)
    for first in range(0, clips, 500):
        count = min(500, clips - first)
        coarse = rng.normal(size=(count, 3, 4)).astype(np.float32)
        fine = rng.normal(scale=0.35, size=(count, height, width)).astype(np.float32)
        scene = np.einsum("yi,nij,jx->nyx", up_y, coarse, up_x) + fine
        drift = rng.normal(scale=0.15, size=(count, segments, len(POSITIONS), height, width)).astype(np.float32)
        thumbs = (scene[:, None, None] + drift).reshape(count, segments, len(POSITIONS), -1)
        thumbs -= thumbs.mean(axis=-1, keepdims=True)
        thumbs *= _WEIGHTS
        thumbs /= np.linalg.norm(thumbs, axis=-1, keepdims=True)
        vectors = (thumbs.reshape(count, segments, -1) / np.sqrt(len(POSITIONS))).astype(np.float16)
        for n in range(count):
            for s in range(segments):
                index.add(f"synthetic-{first + n}", s, vectors[n, s])


class Tally:
    """Per class: drills, identified, graded, inconclusive, false accusations, seconds per trace, and each drill."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.seconds: dict[str, list[float]] = defaultdict(list)
        # CPU seconds too: what a trace costs however busy the machine is (its threads' included).
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.drills: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        self.params: dict[str, list[tuple[bool, dict[str, object]]]] = defaultdict(list)

    def add(self, kind: str, outcome: str, seconds: tuple[float, float], described: str, why: str, params=None) -> None:
        """`seconds`: wall-clock and CPU seconds of the trace."""
        self.rows[kind]["drills"] += 1
        self.rows[kind][outcome] += 1
        self.seconds[kind].append(seconds[0])
        self.cpu[kind].append(seconds[1])
        self.drills[kind].append((outcome, described, why))
        if params is not None:
            self.params[kind].append((outcome == "identified", dict(params)))

    def weakest(self) -> None:
        """Per class, the parameter ranges where the fewest drills name the leaker (numbers split at their median)."""
        print("weakest parameters (share identified where the parameter lies there; the class's own share first):")
        for kind, drills in self.params.items():
            rate = sum(ok for ok, _ in drills) / len(drills)
            groups: dict[str, list[bool]] = defaultdict(list)
            for name in {n for _, p in drills for n in p}:
                values = [(ok, p[name]) for ok, p in drills if name in p]
                numbers = [v for _, v in values if isinstance(v, int | float) and not isinstance(v, bool)]
                if len(numbers) == len(values) and len(set(numbers)) > 3:
                    middle = statistics.median(numbers)
                    for ok, v in values:
                        groups[f"{name} {'<=' if v <= middle else '>'} {middle:.3g}"].append(ok)
                else:
                    for ok, v in values:
                        groups[f"{name} {v}"].append(ok)
            worst = sorted((sum(g) / len(g), -len(g), n) for n, g in groups.items() if len(g) >= 2)[:3]
            shown = "; ".join(f"{n}: {r:.0%} of {-c}" for r, c, n in worst if r < rate)
            print(f"  {kind:<11} {rate:>4.0%}  {shown or 'no parameter range does worse'}")

    def print(self) -> None:
        head = f"{'class':<14} {'drills':>6} {'identified':>10} {'graded':>6} {'inconcl.':>8} {'false acc.':>10}"
        head += f" {'s/trace':>7} {'max s':>6} {'cpu s':>6} {'max cpu':>7}"
        print(head)
        print("-" * len(head))
        for kind, row in self.rows.items():
            named = row["identified"]
            print(
                f"{kind:<14} {row['drills']:>6} {named:>4} {named / row['drills']:>5.0%} {row['graded']:>6}"
                f" {row['drills'] - named - row['graded'] - row['FALSE ACCUSATION']:>8} {row['FALSE ACCUSATION']:>10}"
                f" {statistics.mean(self.seconds[kind]):>7.1f} {max(self.seconds[kind]):>6.1f}"
                f" {statistics.mean(self.cpu[kind]):>6.1f} {max(self.cpu[kind]):>7.1f}"
            )


def _choice(rng: np.random.Generator, units: int) -> tuple[Variant, ...]:
    """A session's variant of each mark unit of one segment."""
    return tuple(Variant(int(rng.integers(2))) for _ in range(units))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drills", type=int, default=10, help="drills per class")
    parser.add_argument("--classes", default=",".join(CLASSES), help="comma-separated classes of the threat model")
    parser.add_argument("--controls", type=int, default=6, help="traced controls (unmarked, foreign, another bed)")
    parser.add_argument(
        "--seconds",
        help="comma-separated suspect lengths: every drill is traced at each, and the table has a row per class and"
        " length (the short class draws its own 5-12 s, and is shown by the length it drew)",
    )
    parser.add_argument("--set", choices=("tune", "report"), default="report", help="tuning seeds or held-out seeds")
    parser.add_argument("--first", type=int, default=0, help="first seed within the set (to split a run)")
    parser.add_argument("--clips", type=int, default=10_000, help="synthetic clips of 30 segments in the store")
    parser.add_argument("--alpha", type=float, default=ALPHA, help="the mark's strength in luma levels")
    parser.add_argument("--cache", help="a folder to keep the rendered clips in between runs")
    parser.add_argument("--verbose", action="store_true", help="print every drill, not only those that fail")
    parser.add_argument("--stages", action="store_true", help="profile the traces and print time per stage")
    parser.add_argument("--record", help="a file to write each trace's source, offset, verdict and z per unit to")
    args = parser.parse_args()
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    base = (HELD_OUT if args.set == "report" else 0) + args.first
    print(f"{platform.node()}: {os.cpu_count()} CPUs ({_cpu()}), load average {os.getloadavg()[0]:.2f} at start")
    print(f"seed set: {args.set} ({base}-{base + args.drills - 1}); classes: {', '.join(classes)}")

    started = time.perf_counter()
    sources, references = sources_of(args.alpha, args.cache)
    index = FingerprintIndex(args.clips * 30 + len(references))
    for (source, i), frames in references.items():
        index.add(source, i, fingerprint_segment(frames))
    synthetic_store(index, args.clips, 30, np.random.default_rng(7))
    print(f"store: {len(index):,} segment fingerprints, built in {time.perf_counter() - started:.1f} s")
    used = time.process_time()
    index.prepare()  # the search's bounds, once for the store, as a service keeping the index would
    print(f"store prepared (search bounds) in {time.process_time() - used:.1f} CPU s, outside every trace")

    def loader(source: str, i: int) -> list[np.ndarray]:
        return references[(source, i)]

    # CPU seconds, not wall-clock ones: on a shared machine the waits for a core would swamp the stages.
    profile = cProfile.Profile(time.process_time) if args.stages else None

    def trace(*arguments):  # the traced call, profiled with --stages
        if profile is None:
            return _trace(*arguments)
        profile.enable()
        try:
            return _trace(*arguments)
        finally:
            profile.disable()

    record = open(args.record, "w") if args.record else None  # noqa: SIM115  # closed at the end of main

    def recorded(drill: str, alignment, readings, verdict) -> None:
        """One line per trace, so that two versions of the tracer can be compared drill by drill."""
        if record is None:
            return
        line = {
            "drill": drill,
            "source": alignment.source_id if alignment else None,
            "offset": round(alignment.offset, 4) if alignment else None,
            "piece": alignment.piece is not None if alignment else None,
            "verdict": [verdict.outcome, verdict.candidate, verdict.reason] if verdict else None,
            "p": min((s.probability for s in verdict.ranking), default=None) if verdict else None,
            "z": [[r.label, round(r.z, 2)] for r in readings],
        }
        record.write(json.dumps(line) + "\n")
        record.flush()

    tally, innocents_checked, innocents_named, innocent_p = Tally(), 0, 0, []
    sets: dict[str, list[str]] = defaultdict(list)
    sets_checked, sets_false, sets_graded, beside = 0, 0, 0, []
    lengths: list[float | None] = [float(v) for v in args.seconds.split(",")] if args.seconds else [None]
    for kind, length, n in ((k, v, n) for k in classes for v in lengths for n in range(args.drills)):
        if kind == "short" and length != lengths[0]:
            continue  # it draws its own length
        seed = base + n
        source, codewords, leakers, threat, suspect, fps, rng = drill(kind, seed, sources, length)
        row = kind if length is None else f"{kind} {threat.seconds:g} s"
        began, used = time.perf_counter(), time.process_time()
        alignment, readings = trace(suspect, fps, index, loader, KEY)
        took, used = time.perf_counter() - began, time.process_time() - used
        verdict = attribute(readings, codewords) if alignment else None
        if alignment is None or alignment.source_id != source:
            outcome = "no source" if alignment is None else "wrong source"
        elif verdict.outcome == "identified":
            outcome = "identified" if verdict.candidate in leakers else "FALSE ACCUSATION"
        elif verdict.outcome == "consistent":
            outcome = "graded" if verdict.candidate in leakers else "graded an innocent"
        else:
            outcome = verdict.outcome
        readable = sum(r.variant is not None for r in readings)
        why = f"{verdict.reason if verdict else 'no source found'}; {readable}/{len(readings)} readable"
        if len(leakers) > 1 and readings:  # collusion: the set named, if any, and never an innocent in it
            found = find_colluders(readings, codewords, graded_below=GRADED_P)
            named = sorted(found.accounts) if found else []
            graded = found is not None and not found.identified
            why += f"; colluders {sorted(leakers)}, set {'graded' if graded else 'named'}: {named or 'none'}"
            if found:
                why += f" (P {found.probability:.1e})"
            if set(named) - set(leakers) and not graded:
                outcome = "FALSE ACCUSATION"
            sets[row].append("innocent" if set(named) - set(leakers) else "all" if named else "none")
            if len(named) == 1 or (named and set(named) != set(leakers)):
                sets[row][-1] = "some"
            if graded:  # "consistent with the set": counted apart from the sets named
                sets[row][-1] = f"graded {sets[row][-1]}"
            # The same bits with the colluders' accounts replaced by innocents': no set may be named, and an
            # innocent drawn into the colluders' group is judged as calibrated as stated.
            others = {f"innocent-{k}": {key: _choice(rng, len(c)) for key, c in codewords[leakers[0]].items()}
                      for k in range(SESSIONS)}  # fmt: skip
            sets_checked += 1
            alone = find_colluders(readings, others, graded_below=GRADED_P)
            sets_false += alone is not None and alone.identified
            sets_graded += alone is not None and not alone.identified
            beside += _beside_innocents(readings, codewords, leakers, others)
        tally.add(row, outcome, (took, used), threat.describe(), why, threat.params)
        recorded(f"{row} {seed}", alignment, readings, verdict)
        if readings:  # innocent accounts: the same bits against codewords that never had the copy
            innocent = {
                **{a: c for a, c in codewords.items() if a not in leakers},
                **{
                    f"innocent-{k}": {key: _choice(rng, len(c)) for key, c in codewords[leakers[0]].items()}
                    for k in range(INNOCENTS)
                },
            }
            innocents_checked += len(innocent)
            scores = [score(readings, a, c) for a, c in innocent.items()]
            innocents_named += decide(scores).outcome == "identified"
            innocent_p += [s.probability for s in scores]
        if args.verbose or outcome != "identified":
            shown = threat.describe() if length is None else f"{threat.describe()} ({threat.seconds:g} s)"
            print(f"  {shown}: {outcome}: {why}", flush=True)
    for n in range(args.controls):
        seed = base + n
        rng = np.random.default_rng([seed, 99])
        kind = ("unmarked", "foreign", "other bed")[n % 3]
        source = list(sources)[seed % len(sources)]
        if kind == "unmarked":
            frames = sources[source]["plain"] or camera(int(source.split("-")[1]), CLIP_SECONDS)
        elif kind == "foreign":
            frames = foreign_clip(seed, CLIP_SECONDS * FPS)
        else:
            frames = camera(OTHER_BED + seed, 20)
        threat = draw(str(rng.choice(["legacy", "geometry", "colour", "occlusion"])), seed, len(frames) / FPS)
        suspect, fps = threat.make([frames], rng)
        codewords = {
            f"session-{s}": {(src, i): _choice(rng, MARK_UNITS) for src, i in references} for s in range(SESSIONS)
        }
        began, used = time.perf_counter(), time.process_time()
        alignment, readings = trace(suspect, fps, index, loader, KEY)
        took, used = time.perf_counter() - began, time.process_time() - used
        verdict = attribute(readings, codewords) if alignment else None
        outcome = "inconclusive"
        if verdict and verdict.outcome != "inconclusive":
            outcome = "FALSE ACCUSATION" if verdict.outcome == "identified" else "graded an innocent"
        recorded(f"control:{kind} {seed}", alignment, readings, verdict)
        tally.add(
            f"control:{kind}", outcome, (took, used), threat.describe(), verdict.reason if verdict else "no source"
        )
        if args.verbose or outcome != "inconclusive":
            print(f"  control {kind} {threat.describe()}: {outcome}")

    print()
    tally.print()
    tally.weakest()
    traced = sum(r["drills"] for k, r in tally.rows.items() if k.startswith("control:"))
    falsely = sum(r["FALSE ACCUSATION"] for r in tally.rows.values())
    print(
        f"controls: {traced} traced (unmarked, foreign, another bed) + {innocents_checked} innocent accounts scored"
        f" = {traced + innocents_checked}; innocents named: {innocents_named}; false accusations in all: {falsely}"
    )
    stated = np.asarray(innocent_p)
    if stated.size:  # (none with --drills 0: controls only)
        calibration = ", ".join(f"p <= {q:.3g}: {(stated <= q).mean():.4f}" for q in (1 / 16, 1 / 64, 1e-3, 1e-4))
        print(f"innocent accounts matching at least as well as a stated probability q (must stay <= q): {calibration}")
    for kind, named in sets.items():
        counts = ", ".join(f"{n} {named.count(n)}" for n in ("all", "some", "none", "innocent"))
        graded = ", ".join(f"{n} {named.count('graded ' + n)}" for n in ("all", "some", "innocent"))
        print(
            f"{kind}: colluding sets in {len(named)} drills: named {counts} (all: every colluder, no innocent);"
            f" graded (p < {GRADED_P:.3g}, no one accused): {graded}"
        )
    if sets_checked:
        stated = np.asarray(beside)
        calibration = ", ".join(f"p <= {q:.3g}: {(stated <= q).mean():.4f}" for q in (1 / 16, 1 / 64, 1e-3, 1e-4))
        print(
            f"collusion with the colluders replaced by innocents: {sets_checked} drills, sets named {sets_false},"
            f" graded {sets_graded};"
            f" an innocent in a colluder's place, stated chance q of being named there (must stay <= q over"
            f" {len(stated)}): {calibration}"
        )
    graded_innocents = sum(r["graded an innocent"] for r in tally.rows.values())
    print(f"graded verdicts pointing at an innocent: {graded_innocents}")
    if profile is not None:
        _print_stages(profile, sum(len(s) for s in tally.seconds.values()))
    if record is not None:
        record.close()
    print(f"load average {os.getloadavg()[0]:.2f} at the end; {time.perf_counter() - started:.0f} s in all")


def _beside_innocents(readings, codewords, leakers, innocents) -> list[float]:
    """Each innocent put in the place of one colluder (whose account is left out) beside the others: the bound
    collusion states for that place."""
    rest = {a: c for a, c in codewords.items() if a != leakers[0]}
    others = tuple(leakers[1:])
    return [member_bound(readings, {**rest, name: codeword}, name, others) for name, codeword in innocents.items()]


def _print_stages(profile: cProfile.Profile, traces: int) -> None:
    """CPU seconds per trace in each stage (under the profiler, which adds a little to each)."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    whole = sum(v[3] for k, v in stats.items() if k[0].endswith("cradle/media/trace/__init__.py") and k[2] == "trace")
    print(f"CPU seconds per trace by stage, {traces} traces (cumulative; profiled): all {whole / max(1, traces):.1f}")
    for label, path, name in STAGES:
        seconds = sum(v[3] for k, v in stats.items() if k[0].endswith(path) and k[2] == name)
        print(f"  {label:<24} {seconds / max(1, traces):>6.2f}")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
