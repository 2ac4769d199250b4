"""The `pitfall` command (also `python3 -m pitfall`).

    pitfall list                      the catalog: id, title and symptom, one line each
    pitfall run P07                   broken vs fixed side by side: curves, values, signature, verdict
    pitfall run P07 --plot out.png    ... and the broken vs fixed curves as a PNG
    pitfall run --all [--plot DIR]    every pitfall, then a summary table; exit status 1 if any pitfall
                                      is not reproduced or its fix does not work
    pitfall run --all --report r.html ... and the HTML report of the same runs
    pitfall report out.html [IDS]     one self-contained HTML page: every pitfall with its plot,
                                      signature and explanation

    pitfall doctor [--json F] [--report F.html] SCRIPT.py [ARGS...]
                                      run a training script unchanged and name the pitfalls in its
                                      runs (exit status: the script's; 3 when it trained nothing)

    pitfall defaults                  the Keras and PyTorch defaults side by side: every optimizer
                                      (values and update-rule variants), then the layer conventions
                                      (BatchNormalization momentum, default initializers, LeakyReLU)
    pitfall defaults --optimizer adam one optimizer
    pitfall defaults --json           the optimizer table as JSON (for tools)
"""
import argparse
import json
import os
import sys


def _defaults(args):
    from . import optimizers
    if args.json:
        rows = optimizers.defaults_table()
        if args.optimizer:
            wanted = args.optimizer.lower()
            rows = [r for r in rows if r["class_name"].lower() == wanted]
            if not rows:
                optimizers.defaults(args.optimizer)  # raises the did-you-mean error
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        optimizers.defaults(args.optimizer)
    return 0


def _list(args):
    from . import catalog
    for pitfall in catalog.entries():
        head = f"{pitfall.id}  {pitfall.title:56}  "
        room = max(30, 150 - len(head))  # one line each, whatever the title's length
        summary = pitfall.summary if len(pitfall.summary) <= room else pitfall.summary[:room - 3] + "..."
        print(head + summary)
    return 0


def _selected(args):
    from . import catalog
    everything = catalog.entries()
    if getattr(args, "all", False) or not args.ids:
        return everything
    return [catalog.find(ident, everything) for ident in args.ids]


def _run(args):
    from . import catalog
    if not args.ids and not args.all:
        raise ValueError("name the pitfalls to run (e.g. `pitfall run P07`) or pass --all; `pitfall list` shows them")
    if args.ids and args.all:
        raise ValueError("pass pitfall ids or --all, not both")
    pitfalls = _selected(args)
    several = len(pitfalls) > 1
    if args.plot and several and os.path.splitext(args.plot)[1].lower() == ".png":
        raise ValueError(f"--plot {args.plot}: with several pitfalls --plot names a folder (one PNG per pitfall)")
    outcomes = []
    for pitfall in pitfalls:
        outcome = catalog.run_pitfall(pitfall, args.seed, doctor=args.doctor)
        outcomes.append(outcome)
        sys.stdout.write(catalog.format_outcome(outcome, explain=not args.quiet) + ("\n" if several else ""))
        sys.stdout.flush()
        if args.plot:
            from .report import plot_outcome
            plot_outcome(outcome, os.path.join(args.plot, f"{pitfall.id}.png") if several else args.plot)
    if several:
        sys.stdout.write(catalog.format_summary(outcomes))
    if args.report:
        from .report import write_report
        write_report(outcomes, args.report)
        print(f"wrote {args.report}")
    return 0 if all(o.ok for o in outcomes) else 1


def _report(args):
    from . import catalog
    from .report import write_report
    outcomes = []
    for pitfall in _selected(args):
        outcome = catalog.run_pitfall(pitfall, args.seed)
        print(f"{pitfall.id}  {outcome.verdict}", flush=True)
        outcomes.append(outcome)
    write_report(outcomes, args.output)
    print(f"wrote {args.output} ({len(outcomes)} pitfalls)")
    return 0 if all(o.ok for o in outcomes) else 1


def _doctor(args):
    from .doctor_script import run_script
    status, _ = run_script(args.script, args.args, json_path=args.json, report_path=args.report,
                           sample_every=args.sample_every)
    return status


def main(argv=None):
    parser = argparse.ArgumentParser(prog="pitfall", description="pitfall: reproduce training pitfalls and their fixes.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    defaults = commands.add_parser("defaults", help="print the Keras vs PyTorch defaults tables side by side")
    defaults.add_argument("--optimizer", metavar="NAME", help="only this optimizer (e.g. adam, rmsprop)")
    defaults.add_argument("--json", action="store_true", help="the optimizer table as JSON")
    defaults.set_defaults(run=_defaults)
    listing = commands.add_parser("list", help="the pitfall catalog, one line each")
    listing.set_defaults(run=_list)
    run = commands.add_parser("run", help="run pitfalls broken and fixed, print the signature and verdict")
    run.add_argument("ids", nargs="*", metavar="ID", help="pitfall ids, e.g. P07 (see `pitfall list`)")
    run.add_argument("--all", action="store_true", help="every pitfall, then a summary table")
    run.add_argument("--seed", type=int, default=0, help="the seed of both runs (default 0)")
    run.add_argument("--plot", metavar="OUT", help="PNG of the curves (a folder when several pitfalls run)")
    run.add_argument("--report", metavar="OUT.html", help="also write the HTML report of these runs")
    run.add_argument("--quiet", action="store_true", help="leave out the symptom/cause/fix text")
    run.add_argument("--doctor", action="store_true",
                     help="also run the doctor on both variants and print its findings")
    run.set_defaults(run=_run)
    report = commands.add_parser("report", help="write the catalog as one self-contained HTML page")
    report.add_argument("output", metavar="OUT.html")
    report.add_argument("ids", nargs="*", metavar="ID", help="only these pitfalls (default: all)")
    report.add_argument("--seed", type=int, default=0, help="the seed of both runs (default 0)")
    report.set_defaults(run=_report)
    doctor = commands.add_parser("doctor", help="run a training script and name the pitfalls in its runs")
    doctor.add_argument("--json", metavar="FILE", help="write the findings as JSON")
    doctor.add_argument("--report", metavar="FILE.html", help="write the findings and curves as an HTML page")
    doctor.add_argument("--sample-every", type=int, default=50, metavar="N",
                        help="read gradients and activations every N steps (and the first 4; default 50)")
    doctor.add_argument("script", metavar="SCRIPT.py")
    doctor.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="the script's own arguments")
    doctor.set_defaults(run=_doctor)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (ValueError, KeyError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"pitfall {args.command}: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `pitfall defaults | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
