"""Write a small dataset of short texts in a few topics, with a category and a number column.

    python examples/make_texts.py                      # examples/texts.csv, 300 rows
    python examples/make_texts.py --count 20000 --out /tmp/texts.csv

Each text is put together from its topic's words, so texts of one topic share vocabulary
and meaning and a sentence encoder should gather them: the worked example for
`export.py bundle --texts examples/texts.csv` (colour by `category` to see it), and the
texts `make bench` embeds. Seeded: the same arguments always write the same file.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

TOPICS = {
    "weather": (
        ["The forecast", "A cold front", "The storm", "Morning fog", "The heatwave", "Light rain", "A strong wind"],
        ["brings", "is expected to bring", "will clear by", "turned into", "made way for", "lasted until"],
        ["snow over the hills", "sunshine in the afternoon", "thunder near the coast", "frost at night",
         "showers this weekend", "humid evenings", "clear skies tomorrow"],
    ),
    "cooking": (
        ["This soup", "The bread dough", "Our lasagna", "The curry", "A lemon cake", "The roast chicken"],
        ["needs", "tastes better with", "is baked with", "simmers for an hour with", "is served with"],
        ["fresh basil and garlic", "a pinch of salt", "butter and flour", "toasted cumin seeds",
         "a spoon of honey", "grated parmesan", "crushed tomatoes"],
    ),
    "football": (
        ["The striker", "Our goalkeeper", "The home team", "The coach", "The young midfielder", "The referee"],
        ["scored against", "saved a penalty from", "lost narrowly to", "praised the defence after facing",
         "was booked in the match with", "celebrated the win over"],
        ["the league leaders", "their old rivals", "the visiting side", "the cup holders",
         "a team from the second division", "the champions"],
    ),
    "computers": (
        ["The new laptop", "This database", "The compiler", "Our web server", "The graphics card", "The update"],
        ["runs faster with", "crashed because of", "now supports", "was slowed down by", "ships with"],
        ["more memory", "a bug in the driver", "encrypted backups", "a faster solid-state disk",
         "two extra processor cores", "a broken configuration file"],
    ),
    "space": (
        ["The telescope", "A new probe", "The astronauts", "The rover", "A distant comet", "The space station"],
        ["photographed", "is travelling towards", "collected samples from", "orbits close to", "discovered"],
        ["the rings of Saturn", "a crater on Mars", "a faint galaxy", "the far side of the Moon",
         "an icy moon of Jupiter", "a young star"],
    ),
}  # fmt: skip
ENDINGS = ["", "", " today.", " again.", ", say the reports.", ", which surprised everyone.", " this year."]


def make_rows(count: int, seed: int = 0) -> list[dict[str, object]]:
    """`count` rows of text, category and stars (1-5), the topics in turn."""
    rng = random.Random(seed)
    names = list(TOPICS)
    rows = []
    for i in range(count):
        category = names[i % len(names)]
        subjects, verbs, objects = TOPICS[category]
        text = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}"
        if rng.random() < 0.3:  # a second clause, so texts differ in length
            text += f" and {rng.choice(verbs)} {rng.choice(objects)}"
        ending = rng.choice(ENDINGS)
        rows.append({"text": text + (ending or "."), "category": category, "stars": rng.randint(1, 5)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="rows to write (default: 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("texts.csv"))
    args = parser.parse_args()
    with open(args.out, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["text", "category", "stars"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(make_rows(args.count, args.seed))


if __name__ == "__main__":
    main()
