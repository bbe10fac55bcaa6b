"""A tabular dataset the project has never seen, made in the test: what a new user brings.

Customer churn, seeded: a `company` column with a long tail of rare names (a random split always
puts some of them only in eval), an integer-coded categorical `plan_code`, two numeric columns, and
a `region` used for slicing whose value `island` holds only negatives (AUC is undefined there).
Its config is written as a user would write one from configs/adult.yaml: no curated schema, no
eval file (the pipeline splits by hash), no code.
"""

from __future__ import annotations

import csv
import math
import random
import types
from pathlib import Path

import yaml

COMMON_COMPANIES = 20
REGIONS = ["north", "south", "east", "west"]
ONE_CLASS_REGION = "island"  # every row a negative


def rows(n: int, seed: int = 7, rare_companies: int | None = None) -> list[dict]:
    """`n` rows; `rare_companies` names (default: one per 375 rows, so together about 0.5% of the
    rows) occur 1-3 times each, the rest of the rows use 20 names."""
    rng = random.Random(seed)
    rare_companies = n // 375 if rare_companies is None else rare_companies
    rare = [f"rare-co-{i:03d}" for i in range(rare_companies)]
    companies = [name for name in rare for _ in range(rng.randint(1, 3))]
    companies += [f"company-{rng.randrange(COMMON_COMPANIES):02d}" for _ in range(n - len(companies))]
    rng.shuffle(companies)
    out = []
    for index, company in enumerate(companies[:n]):
        region = ONE_CLASS_REGION if index % 40 == 0 else rng.choice(REGIONS)
        tenure = rng.randint(1, 72)
        spend = round(rng.uniform(15.0, 120.0), 2)
        plan = rng.randint(1, 6)
        score = -1.5 - 0.05 * tenure + 0.03 * spend + 0.35 * (plan - 3) + rng.gauss(0.0, 0.8)
        churn = region != ONE_CLASS_REGION and rng.random() < 1 / (1 + math.exp(-score))
        out.append(
            {
                "customer_id": f"c{index:06d}",
                "Company": company,
                "Region": region,
                "Plan Code": plan,
                "Tenure Months": tenure,
                "Monthly Spend": spend,
                "Churned": "yes" if churn else "no",
            }
        )
    return out


def config(data: Path, registry: Path, changes: dict | None = None) -> dict:
    raw = {
        "name": "churn",
        "model_name": "churn",
        "data": {"train": str(data)},
        "label": {"column": "Churned", "positive": ["yes"], "negative": ["no"]},
        "features": {
            "numeric": ["Tenure Months", "Monthly Spend"],
            "categorical": ["Company", "Region", "Plan Code"],
        },
        "exclude": ["customer_id"],
        "slicing": {"features": ["Region"]},
        "split": {"eval_fraction": 0.3, "hash_key": ["customer_id"]},
        "training": {"epochs": 3, "batch_size": 256, "seed": 42},
        "tuning": {"enabled": True, "search_space": {}},
        "evaluation": {
            "min_auc": 0.7,
            "fairness_gates": [{"feature": "Region", "metric": "auc", "max_gap": 0.15}],
        },
        "registry": {"uri": str(registry)},
    }
    for dotted, value in (changes or {}).items():
        *parents, last = dotted.split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return raw


def write(folder: Path, n: int = 15_000, changes: dict | None = None, **kwargs) -> types.SimpleNamespace:
    """The CSV and its config in `folder`: a namespace with `folder`, `csv`, `config`."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "churn.csv"
    table = rows(n, **kwargs)
    with data.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config(data, folder / "registry", changes), sort_keys=False))
    return types.SimpleNamespace(folder=folder, csv=data, config=path)
