"""Run schindler2016 experiments through the core's Runner with a shorter training budget.

    python plugins/schindler2016/scripts/short_budget.py EPOCHS OUT EXPERIMENT... \
        -- [genrebench run options: --dataset, --data-root, --split, --split-ratios, ...]

The experiments keep everything but the ``paper`` profile's epochs, which become EPOCHS;
the outputs are filed under the profile name ``paper-<EPOCHS>ep``.  This is how the
README's real-subset numbers were made on a shared 2-core machine, where 100 epochs take
hours.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from genrebench.cache import default_cache_dir
from genrebench.cli import build_parser
from genrebench.registry.loading import load_plugins
from genrebench.run.runner import Job, Runner, RunOptions


def main(argv: list[str]) -> int:
    split = argv.index("--") if "--" in argv else len(argv)
    epochs, out, *names = argv[:split]
    profile = f"paper-{int(epochs)}ep"
    args = build_parser().parse_args(["run", *names, *argv[split + 1 :]])
    registry = load_plugins()
    options = RunOptions(
        experiments=names,
        datasets=args.dataset or (),
        data_root=args.data_root,
        dataset_options=dict(args.dataset_option or ()),
        split=args.split,
        split_ratios=args.split_ratios,
        split_seed=args.split_seed,
        profile=profile,
        seeds=args.seeds,
        seed_start=args.seed_start,
        out=Path(out),
        device=args.device,
        cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()),
    )
    seeds = range(options.seed_start, options.seed_start + options.seeds)
    jobs = []
    for name in names:
        spec = registry.get("experiments", name)
        budget = {**spec.profiles["paper"], "epochs": int(epochs)}
        spec = replace(spec, profiles={**spec.profiles, profile: budget})
        jobs += [Job(spec, dataset, seed) for dataset in options.datasets for seed in seeds]
    runner = Runner(registry, options)
    runner.load_datasets(jobs)
    results = runner.run(jobs)
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
