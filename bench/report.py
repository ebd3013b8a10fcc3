"""The results: results.json (every figure and target), results.md (tables) and PNG plots."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .workload import WARM_OPERATIONS

CONTENDER_LABELS = {
    "ours": "ours",
    "lambdalith": "lambdalith",
    "floor": "floor",
    "floor_client_cursor": "floor (ClientCursor)",
}
COLORS = {"ours": "#1f77b4", "lambdalith": "#d62728", "floor": "#7f7f7f", "floor_client_cursor": "#bcbcbc"}


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def verdict(passed: bool, within_noise: bool = False) -> str:
    """How a target's result is written: pass, or a failure that stands out; either "within
    noise" when its bound lies inside the ratio's interval, so the next run may say otherwise."""
    word = "pass" if passed else "**fail**"
    return f"{word}, within noise" if within_noise else word


def _cores() -> str:
    return (
        f"Load average before and after each section (the machine has {os.cpu_count()} cores; a load "
        "above that means the contenders waited for a CPU, all alike since they are interleaved):"
    )


def _loads(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def _interval(target: dict[str, Any]) -> str:
    low_high = target.get("interval")
    return f"{low_high[0]:.2f}-{low_high[1]:.2f}" if low_high else ""


def markdown(results: dict[str, Any]) -> str:
    """The run as Markdown tables."""
    meta, figures = results["meta"], results["figures"]
    lines = [
        "# Benchmark results",
        "",
        f"Mode `{meta['mode']['name']}`, {meta['date']}, commit `{meta['commit']}`, {meta['machine']}, "
        f"Python {meta['python']}, PostgreSQL {meta['postgres']}. Reproduce: `{meta['command']}`.",
        "",
        f"{_cores()}",
        "",
        "| section | seconds | load average before (1, 5, 15 min) | after |",
        "| --- | ---: | --- | --- |",
        *[
            f"| {name} | {meta['phase_seconds'].get(name, '')} | {_loads(load['before'])} | {_loads(load['after'])} |"
            for name, load in meta.get("load_average", {}).items()
        ],
        "",
        "## Targets",
        "",
        "A ratio's interval is its 95% bootstrap interval over the run's paired repetitions; when",
        'the bound lies inside it, the verdict says "within noise": another run may give the other.',
        "",
        "| target | value | 95% interval | goal | result | detail |",
        "| --- | ---: | ---: | --- | --- | --- |",
    ]
    for target in results["targets"]:
        value = f"{_number(target['value'])} {target['unit']}"
        result = verdict(target["pass"], target.get("within_noise", False))
        lines.append(
            f"| {target['name']} | {value} | {_interval(target)} | {target['goal']} | {result} | {target['detail']} |"
        )
    warm = figures["warm_latency_us"]
    names = list(warm)
    lines += ["", "## Warm latency in-process (us, median / p99)", ""]
    lines += [
        "The lambdalith has no Idempotency-Key or ETags: n/a for those variants.",
        "",
        "| operation | " + " | ".join(CONTENDER_LABELS[n] for n in names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]
    for operation in WARM_OPERATIONS:
        cells = [
            f"{warm[n][operation]['median']:.0f} / {warm[n][operation]['p99']:.0f}" if operation in warm[n] else "n/a"
            for n in names
        ]
        lines.append(f"| {operation} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Cold start (ms, median): total (import + first invocation); CPU; wall",
        "",
        "CPU is the process's CPU time up to the end of its first invocation; wall is spawn to exit.",
        "",
    ]
    lines += ["| function | ours | lambdalith | floor |", "| --- | ---: | ---: | ---: |"]
    for function, by_kind in figures["cold_start"].items():
        cells = []
        for kind in ("ours", "lambdalith", "floor"):
            median = {key: value["median"] for key, value in by_kind[kind].items()}
            cells.append(
                f"{median['import_and_first_invocation']:.0f} ({median['import']:.0f} + "
                f"{median['first_invocation']:.0f}); {median['cpu']:.0f}; {median['wall']:.0f}"
            )
        lines.append(f"| {function} | " + " | ".join(cells) + " |")
    trips = figures["round_trips"]
    lines += ["", "## Round trips per operation (client messages)", ""]
    lines += [
        "| operation | " + " | ".join(CONTENDER_LABELS[n] for n in trips) + " |",
        "| --- |" + " --- |" * len(trips),
    ]
    for operation in trips["ours"]:
        cells = []
        for name in trips:
            found = trips[name].get(operation)
            if found is None:
                cells.append("n/a")
                continue
            messages = " ".join(f"{kind}{count}" for kind, count in found["client_messages"].items())
            cells.append(f"{found['round_trips']} ({messages})")
        lines.append(f"| {operation} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## HTTP throughput (requests/s; latency ms p50 / p99)",
        "",
        "wrk with bench/wrk.lua for every server; uvicorn's listening socket has TCP_NODELAY",
        "(bench/baselines/serve.py, docs/performance.md). Several rounds: the mean rate, the median round's latency.",
        "",
    ]
    http = figures["http"]
    lines += [
        "| server | operation | concurrency | req/s | p50 | p99 | failures |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for server, by_operation in http.items():
        for operation, by_concurrency in by_operation.items():
            for concurrency, found in by_concurrency.items():
                latency = found["latency_ms"] or {"median": None, "p99": None}  # None: nothing answered
                lines.append(
                    f"| {server} | {operation} | {concurrency} | {found['rps']:.0f} | {_number(latency['median'])} | "
                    f"{_number(latency['p99'])} | {found['failures']} |"
                )
    memory = figures["memory_mib"]
    lines += ["", "## Peak RSS of one warm process (MiB)", "", "| process | MiB |", "| --- | ---: |"]
    for kind, by_name in memory.items():
        for name, mib in by_name.items():
            lines.append(f"| {kind} {name} | {mib:.1f} |")
    layer = figures["layer"]
    lines += ["", f"## Layer ({layer['method']})", ""]
    lines.append(
        f"Unzipped {layer['unzipped_mib']:.1f} MiB, zipped {_number(layer['zipped_mib'], 1)} MiB. Largest entries:"
    )
    lines += ["", "| entry | MiB |", "| --- | ---: |"]
    lines += [f"| {name} | {mib:.1f} |" for name, mib in layer["largest_mib"].items()]
    return "\n".join(lines) + "\n"


def plots(results: dict[str, Any], folder: Path) -> list[Path]:
    """Warm latency per operation, cold start per function and throughput per concurrency."""
    import matplotlib  # noqa: PLC0415  # only the report needs it, and it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figures, written = results["figures"], []
    title_suffix = f" ({results['meta']['mode']['name']} run)"

    warm = figures["warm_latency_us"]
    names = list(warm)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.8 / len(names)
    for index, name in enumerate(names):
        served = [n for n, op in enumerate(WARM_OPERATIONS) if op in warm[name]]  # the lambdalith: not all
        xs = [n + (index - (len(names) - 1) / 2) * width for n in served]
        found = [warm[name][WARM_OPERATIONS[n]] for n in served]
        medians = [f["median"] for f in found]
        p99 = [f["p99"] - f["median"] for f in found]
        ax.bar(
            xs, medians, width, yerr=[[0] * len(p99), p99], capsize=2, label=CONTENDER_LABELS[name], color=COLORS[name]
        )
    ax.set_xticks(range(len(WARM_OPERATIONS)), [op.replace("_", "\n", 1) for op in WARM_OPERATIONS], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("microseconds (median, whisker to p99)")
    ax.set_title("Warm latency per operation, in-process" + title_suffix)
    ax.legend()
    written.append(_save(fig, folder / "warm_latency.png"))

    cold = figures["cold_start"]
    functions = list(cold)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    kinds = ("ours", "lambdalith", "floor")
    for index, kind in enumerate(kinds):
        xs = [n + (index - 1) * 0.27 for n in range(len(functions))]
        imports = [cold[f][kind]["import"]["median"] for f in functions]
        firsts = [cold[f][kind]["first_invocation"]["median"] for f in functions]
        ax.bar(xs, imports, 0.27, color=COLORS[kind], label=f"{kind}: import")
        ax.bar(xs, firsts, 0.27, bottom=imports, color=COLORS[kind], alpha=0.5, label=f"{kind}: first invocation")
    ax.set_xticks(range(len(functions)), [f.removesuffix("Function") for f in functions])
    ax.set_ylabel("milliseconds (median)")
    ax.set_title("Cold start: import + first invocation" + title_suffix)
    ax.legend(fontsize=8, ncol=3)
    written.append(_save(fig, folder / "cold_start.png"))

    http = figures["http"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, operation in zip(axes, ("create", "get"), strict=True):
        for server, by_operation in http.items():
            points = by_operation.get(operation, {})
            concurrencies = [int(c) for c in points]
            ax.plot(concurrencies, [points[str(c)]["rps"] for c in concurrencies], marker="o", label=server)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent connections")
        ax.set_ylabel("requests per second")
        ax.set_title(f"{operation} over HTTP")
        ax.legend(fontsize=8)
    fig.suptitle("Throughput per concurrency" + title_suffix)
    written.append(_save(fig, folder / "http_throughput.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    plt.close(fig)
    return path


def write(results: dict[str, Any], folder: Path) -> list[Path]:
    """Write results.json, results.md and the plots into `folder`; the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "results.json"
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    md_path = folder / "results.md"
    md_path.write_text(markdown(results))
    return [json_path, md_path, *plots(results, folder)]
