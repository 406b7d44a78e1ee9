"""The command line: ``python -m fttoolkit COMMAND ...``.

Commands
--------
``run ALGO --nodes N --seed S --until TICKS [--loss P] [--trace FILE]``
    Run a protocol with its default client workload; write the JSON Lines
    trace to FILE, or a readable transcript to standard output.
``replay SCRIPT [--rewrite] [--trace FILE]``
    Replay a scenario script and print its transcript; exit 1 if an invariant
    broke or an expected transcript differs (``--rewrite`` writes them).
``fuzz ALGO --seeds K [--first-seed S] [--nodes N] [--bug NAME] [--faults PROFILE] [--param KEY=VALUE ...] [--save FILE]``
    Run K seeded random fault schedules; check every invariant; print the
    first violation as a shrunk script.  Exit 1 if any schedule failed.
``bugs ALGO``
    List the algorithm's named classic bugs, one per line.
``algorithms``
    List the algorithms and what they are.
``grade PATH... [--csv FILE] [--timeout SECONDS]``
    Grade exercise notebooks: one notebook, one student's folder, or a class
    folder of student folders.  Prints a table and ``TOTAL: X/Y``; writes a
    CSV gradebook.  Exit 0 whenever grading ran.
``make-exercises [--check]``
    Generate ``exercises/`` from ``solutions/`` (``--check``: only say whether
    they differ; exit 1 if they do).
``lincheck FILE... [--timeout SECONDS] [--explain]``
    Check Jepsen histories for linearizability (key-value EDN maps or etcd
    register logs); print ``FILE: linearizable``, ``FILE: not linearizable``
    or ``FILE: unknown`` per file.  Exit 0 whenever checking ran.
``explore SYSTEM [--OPTION VALUE ...] [--deadlock] [--max-states N] [--max-depth N] [--invariant NAME] [--all]``
    Explore every reachable state of SYSTEM breadth first (``twophase --rm 3``,
    ``tcommit``, ``paxos-spec --acceptors 3 --values 2 --max-ballot 1``...);
    print ``distinct states: N``, ``states generated: M``, ``depth: D`` as TLC
    counts them, then each violation with its shortest trace.  Exit 1 if an
    invariant failed (or, with ``--deadlock``, a deadlock was found).

A user's mistake (unknown algorithm, probability outside [0, 1]...) prints one
line starting ``fttoolkit: error:`` and exits with status 2; no traceback.
"""

import argparse
import sys

from .core.errors import BadParameter, FtError
from .doors import REGISTRY, door_for

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors name the program and never show a traceback."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"fttoolkit: error: {message}\n")


def _algorithms_text():
    width = max((len(n) for n in REGISTRY), default=0)
    return "\n".join(f"  {name:<{width}}  {REGISTRY[name].summary}" for name in sorted(REGISTRY))


def build_parser():
    """Return the argument parser of ``python -m fttoolkit``."""
    parser = _Parser(
        prog="python -m fttoolkit",
        description="fttoolkit: fault tolerance in distributed systems, simulated step by step.",
        epilog="algorithms:\n" + _algorithms_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run", help="run an algorithm and print or save its trace",
        description="Run ALGO with its default client workload on a simulated cluster.",
        epilog="algorithms:\n" + _algorithms_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("algo", metavar="ALGO", help="algorithm name (see the list below)")
    run.add_argument("--nodes", type=int, default=3, metavar="N", help="number of nodes (default 3)")
    run.add_argument("--seed", type=int, default=0, metavar="S", help="master seed (default 0)")
    run.add_argument("--until", type=int, required=True, metavar="TICKS",
                     help="simulated time to run, in ticks (1 tick = 1 ms)")
    run.add_argument("--loss", type=float, default=0.0, metavar="P",
                     help="probability that a message is lost, in [0, 1] (default 0)")
    run.add_argument("--requests", type=int, default=3, metavar="K",
                     help="client requests in the default workload (default 3)")
    run.add_argument("--trace", metavar="FILE",
                     help="write the trace as JSON Lines to FILE instead of a transcript to stdout")

    replay = commands.add_parser(
        "replay", help="replay a scenario script and print its transcript",
        description="Replay a scenario script. Exit status 1 if an invariant broke or an expected "
                    "transcript differs, 2 if the script is malformed.")
    replay.add_argument("script", metavar="SCRIPT", help="the scenario script (text file)")
    replay.add_argument("--rewrite", action="store_true",
                        help="write each command's expected transcript into SCRIPT instead of comparing")
    replay.add_argument("--trace", metavar="FILE", help="also write the JSON Lines trace to FILE")

    fuzz = commands.add_parser(
        "fuzz", help="hunt for invariant violations with random fault schedules",
        description="Run seeded random fault schedules of ALGO, check every invariant, and print the "
                    "first violation as a shrunk scenario script.",
        epilog="fault profiles: none, crash, lossy, partition, chaos\nalgorithms:\n" + _algorithms_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    fuzz.add_argument("algo", metavar="ALGO")
    fuzz.add_argument("--seeds", type=int, required=True, metavar="K", help="number of schedules")
    fuzz.add_argument("--first-seed", type=int, default=0, metavar="S", help="first seed (default 0)")
    fuzz.add_argument("--nodes", type=int, default=5, metavar="N", help="cluster size (default 5)")
    fuzz.add_argument("--bug", action="append", default=[], metavar="NAME",
                      help="switch on a named bug (repeatable; see 'bugs ALGO')")
    fuzz.add_argument("--faults", default="chaos", metavar="PROFILE",
                      help="none, crash, lossy, partition or chaos (default)")
    fuzz.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                      help="protocol parameter (repeatable)")
    fuzz.add_argument("--ticks", type=int, default=None, metavar="T", help="length of each schedule")
    fuzz.add_argument("--save", metavar="FILE", help="also write the shrunk script to FILE")
    fuzz.add_argument("--no-presets", action="store_true",
                      help="do not replay the algorithm's preset scenarios first (the seed corpus)")

    bugs = commands.add_parser("bugs", help="list an algorithm's named bugs",
                               description="List the named classic bugs of ALGO, one per line.")
    bugs.add_argument("algo", metavar="ALGO")

    commands.add_parser("algorithms", help="list the algorithms",
                        description="List the algorithms fttoolkit can run.")

    grade = commands.add_parser(
        "grade", help="grade exercise notebooks (one, a student's folder, or a class)",
        description="Grade exercise notebooks. A PATH is a notebook, a folder of notebooks (one student, "
                    "named after the folder), or a folder of student folders (a class).")
    grade.add_argument("paths", nargs="+", metavar="PATH")
    grade.add_argument("--csv", default="grades.csv", metavar="FILE",
                       help="where to write the gradebook (default grades.csv)")
    grade.add_argument("--timeout", type=float, default=10, metavar="SECONDS",
                       help="time limit of each exercise cell and each test (default 10)")

    make = commands.add_parser("make-exercises", help="generate exercises/ from solutions/",
                               description="Write exercises/NN_*.ipynb from solutions/NN_*.ipynb, each "
                                           "solution region replaced by a stub that raises NotImplementedError.")
    make.add_argument("--check", action="store_true", help="only check that exercises/ is up to date")

    lincheck = commands.add_parser(
        "lincheck", help="check Jepsen histories for linearizability",
        description="Check each history FILE (Jepsen key-value EDN maps, or Jepsen's etcd register log) "
                    "for linearizability; print one line per file: FILE: linearizable, "
                    "FILE: not linearizable or FILE: unknown (the time limit, or the limit of "
                    "remembered search states, was reached).")
    lincheck.add_argument("files", nargs="+", metavar="FILE")
    lincheck.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                          help="time limit per file, after which the answer is 'unknown' (default: none)")
    lincheck.add_argument("--explain", action="store_true",
                          help="after each verdict, say why (indented lines)")

    from .check.explore import common_options_text, systems_text
    explore = commands.add_parser(
        "explore", help="model-check a system: every reachable state, breadth first",
        description="Explore every reachable state of SYSTEM breadth first, check its invariants in each, "
                    "and print TLC's figures (distinct states, states generated, depth) and each violation "
                    "with a shortest trace. Exit 1 if a property failed.",
        epilog="options of every system:\n" + common_options_text()
               + "\nsystems and their options:\n" + systems_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    explore.add_argument("system", metavar="SYSTEM", help="the system to explore (see the list below)")
    explore.add_argument("options", nargs=argparse.REMAINDER, metavar="--OPTION VALUE",
                         help="the system's options and the exploration's")
    return parser


def _grade(args):
    from .grading.grader import format_table, grade, write_gradebook
    if not args.timeout > 0:
        raise BadParameter(f"--timeout must be more than 0 seconds; got {args.timeout:g}")
    rows = grade(args.paths, timeout=args.timeout)
    print(format_table(rows))
    write_gradebook(rows, args.csv)
    print(f"gradebook written to {args.csv}")
    return EXIT_OK


def _make_exercises(args):
    import nbformat
    from .grading.notebooks import EXERCISES, make_exercises
    made = make_exercises(write=not args.check)
    if args.check:
        stale = [name for name, nb in made.items()
                 if not (EXERCISES / name).exists() or nbformat.read(EXERCISES / name, as_version=4) != nb]
        for name in stale:
            print(f"exercises/{name} differs from what solutions/{name} generates")
        return EXIT_FAIL if stale else EXIT_OK
    for name in made:
        print(f"wrote exercises/{name}")
    return EXIT_OK


def _lincheck(args):
    from .check.linearizability import check, read_history
    if args.timeout is not None and not args.timeout > 0:
        raise BadParameter(f"--timeout must be more than 0 seconds; got {args.timeout:g}")
    status = EXIT_OK
    for path in args.files:
        try:
            model, history = read_history(path)
        except FtError as exc:
            print(f"fttoolkit: error: {exc}", file=sys.stderr)
            status = EXIT_USAGE
            continue
        result = check(history, model=model, timeout_s=args.timeout)
        print(f"{path}: {result.verdict}", flush=True)
        if args.explain:
            print("\n".join("    " + line for line in result.explain().splitlines()))
    return status


def _params(pairs):
    from .scenario import parse_assignments
    return parse_assignments(pairs, "--param: ")


def _replay(args):
    from .scenario import parse, replay, rewrite
    try:
        with open(args.script, encoding="utf-8") as fp:
            text = fp.read()
    except OSError as exc:
        raise FtError(f"cannot read the script {args.script!r}: {exc.strerror}") from None
    if args.rewrite:
        new = rewrite(text)
        with open(args.script, "w", encoding="utf-8") as fp:
            fp.write(new)
        print(f"rewrote the expected transcripts in {args.script}")
    result = replay(parse(open(args.script, encoding="utf-8").read()))
    door = result.door
    print(door.trace.transcript())
    if args.trace:
        with open(args.trace, "w", encoding="utf-8", newline="\n") as fp:
            door.trace.write_jsonl(fp)
    for command, expected, actual in result.mismatches:
        print(f"# line {command.line}: {command.text}: the transcript differs from the expected one")
        for line in expected:
            if line not in actual:
                print(f"#   - {line}")
        for line in actual:
            if line not in expected:
                print(f"#   + {line}")
    broken = result.violations
    summary = f"# {door.name}: {len(result.script.commands)} commands, {len(door.trace)} events, t={door.now}"
    if broken:
        summary += f", {len(broken)} invariant violation(s): " + "; ".join(e.describe() for e in broken)
    print(summary)
    return EXIT_FAIL if (broken or result.mismatches) else EXIT_OK


def _fuzz(args):
    from .check.fuzz import fuzz
    from .scenario import preset_failures, schedule_to_script
    door_class = door_for(args.algo)
    if args.nodes < 1:
        raise FtError(f"--nodes must be at least 1; got {args.nodes}")
    if args.ticks is not None and args.ticks < 1:
        raise FtError(f"--ticks must be at least 1; got {args.ticks}")
    known = door_class.bug_list()
    for bug in args.bug:
        if bug not in known:
            raise FtError(f"unknown bug {bug!r} for {args.algo}; known bugs: {', '.join(sorted(known))}")
    params = _params(args.param)
    door_class(nodes=args.nodes, **params)   # checks the parameter names and values now (node ids too)
    presets = {} if args.no_presets else door_class.presets()
    broken = preset_failures(door_class, args.bug) if presets else []
    report = fuzz(door_class, args.seeds, first_seed=args.first_seed, nodes=args.nodes, bugs=args.bug,
                  profile=args.faults, params=params, ticks=args.ticks)
    if broken:
        name, text, event = broken[0]
        print(f"preset {name}: {event.describe()}")
        print(f"invariant: {event['invariant'].split(':')[0]}")
        print(f"# found by: fuzz {args.algo}, replaying its preset scenario {name}"
              + "".join(f" --bug {b}" for b in args.bug))
        print(text, end="")
        if args.save:
            _save(args.save, text)
    elif report.failures:
        first = report.failures[0]
        violation = first.violations[0]
        settings = ", ".join(f"{k}={v}" for k, v in first.config.items())
        print(f"seed {first.seed}: {violation}")
        print(f"invariant: {violation.invariant}")
        print(f"configuration: {settings}")
        shrunk = first.shrunk or first.schedule
        description = [f"{args.algo}: {violation}",
                       f"found by: fuzz {args.algo} --faults {args.faults} seed {first.seed}"
                       + "".join(f" --bug {b}" for b in args.bug),
                       f"shrunk from {len(first.schedule.actions)} to {len(shrunk.actions)} actions; "
                       f"replay with: python -m fttoolkit replay FILE"]
        text = schedule_to_script(shrunk, description).render()
        print(f"shrunk from {len(first.schedule.actions)} to {len(shrunk.actions)} actions:")
        print(text, end="")
        if args.save:
            _save(args.save, text)
    total = report.violations + len(broken)
    corpus = f"{len(presets)} preset scenarios and " if presets else ""
    print(f"{args.algo}: {corpus}{report.schedules} schedules, {total} violations")
    return EXIT_FAIL if total else EXIT_OK


def _save(path, text):
    try:
        with open(path, "w", encoding="utf-8") as fp:
            fp.write(text)
    except OSError as exc:
        raise FtError(f"cannot write {path!r}: {exc.strerror}") from None
    print(f"saved to {path}")


def _run(args):
    door_class = door_for(args.algo)
    if args.nodes < 1:
        raise FtError(f"--nodes must be at least 1; got {args.nodes}")
    if args.until < 0:
        raise FtError(f"--until must be a tick >= 0; got {args.until}")
    if args.requests < 0:
        raise FtError(f"--requests must be >= 0; got {args.requests}")
    door = door_class(nodes=args.nodes, seed=args.seed, loss=args.loss)
    door.workload(args.until, requests=args.requests)
    door.run(until=args.until)
    if args.trace:
        try:
            with open(args.trace, "w", encoding="utf-8", newline="\n") as fp:
                door.trace.write_jsonl(fp)
        except OSError as exc:
            raise FtError(f"cannot write the trace to {args.trace!r}: {exc.strerror}") from None
        print(f"{len(door.trace)} events written to {args.trace}")
    else:
        print(door.trace.transcript())
        print(f"# {door.name}: {len(door.ids)} nodes, seed {door.seed}, {len(door.trace)} events, t={door.now}")
    return EXIT_OK


def main(argv=None):
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "algorithms":
            print(_algorithms_text())
            return EXIT_OK
        if args.command == "bugs":
            for name, text in sorted(door_for(args.algo).bug_list().items()):
                print(f"{name}  {text}")
            return EXIT_OK
        if args.command == "replay":
            return _replay(args)
        if args.command == "fuzz":
            return _fuzz(args)
        if args.command == "grade":
            return _grade(args)
        if args.command == "make-exercises":
            return _make_exercises(args)
        if args.command == "lincheck":
            return _lincheck(args)
        if args.command == "explore":
            from .check.explore import run_cli
            return run_cli(args.system, args.options)
        return _run(args)
    except FtError as exc:
        print(f"fttoolkit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK
