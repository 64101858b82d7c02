"""Subcommands ``train``, ``eval`` and ``predict`` of the ``cnnkit`` command line.

cnnkit train                                  LeNet-5, bundled MNIST, 10 epochs: 98.5 % test
cnnkit train --model small-cnn --data fashion-mnist --epochs 10 --batch-size 128 \
    --optimizer adamw --lr 0.002                 93.1 % test, about 25 min on one busy core
cnnkit train --resume runs/lenet5-mnist-20260101-120000
cnnkit eval runs/lenet5-mnist-20260101-120000
cnnkit predict runs/lenet5-mnist-20260101-120000 digit.png --top-k 3

Errors a user can cause (unknown names, missing files, a corrupt checkpoint, a file that is
not an image) are reported in one line on stderr with exit code 1 (2 for usage errors), never
as a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cnnkit.detection.tasks import TASKS, add_task_arguments, describe_recipes
from cnnkit.models import MODELS
from cnnkit.training.checkpoint import CheckpointError
from cnnkit.training.datasets import DATASETS
from cnnkit.training.predict import ImageFileError
from cnnkit.training.trainer import OPTIMIZERS, SCHEDULERS, RunError, TrainConfig

# Options that define a run; with --resume they come from the run directory instead.
_RUN_OPTIONS = (
    "model",
    "data",
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "scheduler",
    "seed",
    "augment",
    "limit_train",
    "limit_test",
)
_USER_ERRORS = (
    RunError,
    CheckpointError,
    ImageFileError,
    FileNotFoundError,
    ValueError,
    FloatingPointError,
)


def _name(value: str) -> str:
    return value.lower().replace("_", "-")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return number


def _fail(command: str, error: BaseException) -> int:
    print(f"cnnkit {command}: error: {error}", file=sys.stderr)
    return 1


def _guarded(command: str, run: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Turn expected user errors into a one-line message and exit code 1."""

    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except _USER_ERRORS as error:
            return _fail(command, error)
        except KeyboardInterrupt:
            print(f"\ncnnkit {command}: interrupted", file=sys.stderr)
            return 130

    return guarded


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import cnnkit

        cnnkit.set_num_threads(threads)


def _train_scene_task(args: argparse.Namespace) -> int:
    from cnnkit.detection.tasks import task_kwargs, train_task

    classification_only = ("model", "optimizer", "scheduler", "momentum", "weight_decay",
                           "augment", "limit_test", "resume")  # fmt: skip
    given = [name for name in classification_only if getattr(args, name) is not None]
    if given:
        flags = " ".join(f"--{name.replace('_', '-')}" for name in given)
        raise ValueError(f"{flags}: not an option of --task {args.task}")
    if args.data not in (None, "scenes"):
        raise ValueError(f"--task {args.task} trains on --data scenes, got --data {args.data}")
    output_dir = args.out or f"runs/{args.task}-scenes-{time.strftime('%Y%m%d-%H%M%S')}"
    print(f"training {args.task} on synthetic {args.objects} scenes -> {output_dir}")
    result = train_task(
        args.task,
        seed=args.seed or 0,
        output_dir=output_dir,
        limit=args.limit_train,
        threads=args.threads,
        progress=not args.no_progress,
        **task_kwargs(args),
    )
    print(", ".join(f"{name} {value:.4g}" for name, value in result.items()))
    return 0


def _train(args: argparse.Namespace) -> int:
    from cnnkit.training.trainer import Trainer

    if args.task != "classify":
        return _train_scene_task(args)
    if args.data == "scenes":
        raise ValueError("--data scenes needs --task detect, segment or instance")
    _set_threads(args.threads)
    progress = not args.no_progress
    if args.resume is not None:
        given = [name for name in (*_RUN_OPTIONS, "out") if getattr(args, name) is not None]
        if given:
            flags = " ".join(f"--{name.replace('_', '-')}" for name in given)
            raise ValueError(f"{flags}: a resumed run keeps the settings saved in its directory")
        trainer = Trainer.resume(args.resume, progress=progress, data_dir=args.data_dir)
        if trainer.epoch >= trainer.config.epochs:
            result = trainer.result()
            accuracy = result["test_accuracy"]
            print(f"{args.resume}: all {trainer.epoch} epochs already done; test {accuracy:.2%}")
            return 0
        print(f"resuming {trainer.run_dir} after epoch {trainer.epoch}/{trainer.config.epochs}")
    else:
        # Options left unset on the command line take TrainConfig's defaults.
        given = {name: getattr(args, name) for name in _RUN_OPTIONS}
        config = TrainConfig(
            **{name: value for name, value in given.items() if value is not None},
            data_dir=args.data_dir,
        )
        trainer = Trainer(config, args.out, progress=progress)
        print(
            f"training {config.model} on {config.data}: {len(trainer.train_set)} train / "
            f"{len(trainer.test_set)} test images, {config.epochs} epochs, {config.optimizer} "
            f"lr {config.lr:g}, {config.scheduler} schedule -> {trainer.run_dir}"
        )
    start = time.perf_counter()
    try:
        result = trainer.fit()
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; the last finished epoch is saved. Continue with: "
            f"cnnkit train --resume {trainer.run_dir}",
            file=sys.stderr,
        )
        return 130
    print(
        f"test accuracy {result['test_accuracy']:.2%} (loss {result['test_loss']:.4f}) after "
        f"{result['epochs']} epochs, {time.perf_counter() - start:.0f} s; files in "
        f"{trainer.run_dir}"
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from cnnkit.data.loader import DataLoader
    from cnnkit.training.trainer import EVAL_BATCH_SIZE, evaluate, load_run

    _set_threads(args.threads)
    config, model, spec = load_run(args.run_dir)
    test_set = spec.load(False, args.data_dir or config.data_dir, False, args.limit)
    metrics = evaluate(model, DataLoader(test_set, EVAL_BATCH_SIZE), not args.no_progress)
    print(
        f"{config.model} on {config.data} test set ({len(test_set)} images): "
        f"accuracy {metrics['accuracy']:.2%}, loss {metrics['loss']:.4f}"
    )
    return 0


def _predict(args: argparse.Namespace) -> int:
    from cnnkit.training.predict import predict_files
    from cnnkit.training.trainer import load_run

    _set_threads(args.threads)
    if _is_scene_task_run(args.run_dir):
        from cnnkit.detection.tasks import predict_task

        if args.output is None:
            raise ValueError("-o/--output: a detection or segmentation run draws onto images")
        predict_task(args.run_dir, args.images, args.output)
        print(f"predictions drawn to {args.output}")
        return 0
    _, model, spec = load_run(args.run_dir)
    for path, top in zip(args.images, predict_files(model, spec, args.images, args.top_k),
                         strict=True):  # fmt: skip
        ranked = ", ".join(f"{name} {probability:.1%}" for name, probability in top)
        print(f"{path}: {ranked}")
    return 0


def _is_scene_task_run(run_dir: str) -> bool:
    """Runs of ``--task detect|segment|instance`` record the task in their config."""
    import json

    from cnnkit.training.trainer import RUN_FILE

    try:
        record = json.loads((Path(run_dir) / RUN_FILE).read_text())
    except (OSError, ValueError):
        return False  # load_run reports what is wrong with the directory
    return isinstance(record.get("config"), dict) and "task" in record["config"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=_positive_int, help="threads for the kernels and BLAS")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train``, ``eval`` and ``predict``; each sets ``func(args) -> int``."""
    train = subparsers.add_parser(
        "train",
        help="train a model (default: LeNet-5 on the bundled MNIST digits)",
        description="Train a model and write weights, checkpoint, metrics and curves to a run "
        "directory. Unset options take the defaults of cnnkit.training.TrainConfig.",
    )
    train.add_argument(
        "--task", type=_name, choices=("classify", *TASKS), default="classify",
        help="classify (default), or detect/segment/instance on --data scenes",
    )  # fmt: skip
    train.add_argument("--model", type=_name, choices=sorted(MODELS), help="default: lenet5")
    train.add_argument(
        "--data", type=_name, choices=sorted([*DATASETS, "scenes"]), help="default: mnist"
    )
    train.add_argument(
        "--data-dir", help="directory of the data set's files (default: bundled / system)"
    )
    train.add_argument("--epochs", type=_positive_int, help="default: 10")
    train.add_argument("--batch-size", type=_positive_int, help="default: 64")
    train.add_argument("--optimizer", type=_name, choices=OPTIMIZERS, help="default: sgd")
    train.add_argument("--lr", type=float, help="default: 0.05 for sgd, 0.001 for adam(w)")
    train.add_argument("--momentum", type=float, help="SGD momentum (default 0.9)")
    train.add_argument("--weight-decay", type=float, help="default: 5e-4")
    train.add_argument("--scheduler", type=_name, choices=SCHEDULERS, help="default: cosine")
    train.add_argument("--seed", type=int, help="default: 0")
    train.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="random augmentation of training images (default: the data set's choice)",
    )
    train.add_argument(
        "--limit", dest="limit_train", type=_positive_int, metavar="N",
        help="use only the first N training images",
    )  # fmt: skip
    train.add_argument(
        "--limit-test", type=_positive_int, metavar="N", help="use only the first N test images"
    )
    train.add_argument("--out", help="run directory (default runs/<model>-<data>-<time>)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    scene_flags = train.add_argument_group(
        "scene tasks (--task detect, segment, instance)", description=describe_recipes()
    )
    add_task_arguments(scene_flags)
    _common(train)
    train.set_defaults(func=_guarded("train", _train))

    evaluate = subparsers.add_parser(
        "eval", help="test accuracy of a trained run", description="Evaluate a run's weights."
    )
    evaluate.add_argument("run_dir", help="run directory written by cnnkit train")
    evaluate.add_argument("--data-dir", help="directory of the data set's files")
    evaluate.add_argument("--limit", type=_positive_int, metavar="N", help="first N test images")
    _common(evaluate)
    evaluate.set_defaults(func=_guarded("eval", _eval))

    predict = subparsers.add_parser(
        "predict",
        help="classify image files with a trained run",
        description="Print the most likely classes of each image. Images of any size and "
        "colour are converted like the training data: grey levels, inverted if dark-on-light, "
        "object cropped, scaled and centred in 28x28 (MNIST: 20x20 box, centre of mass).",
    )
    predict.add_argument("run_dir", help="run directory written by cnnkit train")
    predict.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...)")
    predict.add_argument("--top-k", type=_positive_int, default=3, help="classes to show")
    predict.add_argument(
        "-o", "--output", help="detection/segmentation runs: image (or directory) to draw onto"
    )
    _common(predict)
    predict.set_defaults(func=_guarded("predict", _predict))
