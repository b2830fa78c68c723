"""``train`` and ``tune`` (one worker of a shared study)."""

from __future__ import annotations

from churnml.cli import arguments
from churnml.cli.arguments import add_engine, data_or_mapping
from churnml.cli.output import print_json, say
from churnml.errors import UsageError


# --- train (issue 5) ----------------------------------------------------------------------
def add_train(sub):
    p = sub.add_parser(
        "train", help="tune, fit, calibrate, evaluate and register the renewal-risk model"
    )
    arguments.add_data_source(p)
    p.add_argument(
        "--config",
        type=arguments.existing_file,
        help="model config YAML (default: models/default.yaml)",
    )
    p.add_argument(
        "--trials",
        type=arguments.count,
        help="Optuna trial budget (overrides the config); "
        "0 with --storage: select among the study's trials without adding any",
    )
    _add_study_options(p, required=False)
    add_engine(p)
    p.set_defaults(handler=_cmd_train)


def _cmd_train(args) -> int:
    if args.engine == "spark":
        from churnml.spark import commands

        return commands.train(args)
    from churnml.model.config import load_config
    from churnml.model.training import train

    _check_study_options(args)
    config = load_config(args.config)
    result = train(
        data_or_mapping(args),
        config=config,
        trials=args.trials,
        mapping=args.mapping,
        storage=args.storage,
        study_name=args.study_name,
        worker=args.worker,
        progress=not args.json,
    )
    if args.json:
        return print_json(
            {
                "run_id": result.run_id,
                "model_uri": result.model_uri,
                "model_version": result.model_version,
                "promoted": result.promoted,
                "reason": result.reason,
                "best_params": result.best_params,
                "test": result.table().to_dict("index"),
                "timings": {k: round(v, 3) for k, v in result.timings.items()},
            }
        )
    say(result.label_audit.format() + "\n")
    say(result.summary())
    return 0


# --- tune: one worker of a shared study (issue 15) -----------------------------------------
def _add_study_options(p, *, required: bool):
    p.add_argument(
        "--storage",
        required=required,
        help="Optuna storage shared by the workers: sqlite:///study.db, postgresql://...",
    )
    p.add_argument("--study-name", required=required, help="name of the shared Optuna study")
    p.add_argument(
        "--worker",
        type=arguments.count,
        help="worker id, seeds this worker's sampler (default: from host and process id)",
    )


def _check_study_options(args) -> None:

    if (args.storage is None) != (args.study_name is None):
        raise UsageError(f"{args.command}: give --storage and --study-name together")
    if args.storage is None and (args.worker is not None or args.trials == 0):
        raise UsageError(f"{args.command}: --worker and --trials 0 need --storage and --study-name")
    if args.trials is not None and args.trials < 0 or args.worker is not None and args.worker < 0:
        raise UsageError(f"{args.command}: --trials and --worker must be 0 or more")


def add_tune(sub):
    p = sub.add_parser(
        "tune",
        help="add tuning trials to a shared Optuna study (one worker); "
        "then select, fit and register with train --trials 0",
    )
    arguments.add_data_source(p)
    p.add_argument(
        "--config",
        type=arguments.existing_file,
        help="model config YAML (default: models/default.yaml)",
    )
    p.add_argument(
        "--trials", type=arguments.count, help="this worker's trial budget (default: the config's)"
    )
    _add_study_options(p, required=True)
    p.set_defaults(handler=_cmd_tune)


def _cmd_tune(args) -> int:
    from churnml.model.config import load_config
    from churnml.model.study import redacted, tune_worker

    _check_study_options(args)
    result = tune_worker(
        data_or_mapping(args),
        storage=args.storage,
        study_name=args.study_name,
        mapping=args.mapping,
        config=load_config(args.config),
        trials=args.trials,
        worker=args.worker,
    )
    trials = result.trials
    mine = trials[trials["worker"] == result.worker]
    done = trials[trials["state"] == "complete"]
    best = done.loc[done["value"].idxmax()]
    say(
        f"worker {result.worker}: {len(mine)} trials in study {args.study_name!r} "
        f"({redacted(args.storage)}); the study has {len(trials)} trials, {len(done)} complete, "
        f"best fold AUC {best['value']:.4f} (trial {int(best['number'])})"
    )
    say(
        f"when every worker is done: churnml train --data {args.data} --storage "
        f"{redacted(args.storage)} --study-name {args.study_name} --trials 0"
    )
    return 0
