"""The peers' pages for `make bench-browser`: wizmap and datamapplot, built from our bundle's matrix.

Both draw a 2-D UMAP of the same vectors (umap-learn, cosine), labelled with the same
words, served by the same server as our pages. Their packages and the JavaScript that
datamapplot's offline mode embeds are bench-only (requirements-bench.txt; npm for the
JavaScript); a page whose inputs are missing is skipped with a note, not faked.
Each page announces its own complete view as the performance mark `peer-complete`:
wizmap when it logs that it finished loading every point (after drawing them),
datamapplot when it dispatches `datamapDataLoaded` (every layer's data in).
"""

from __future__ import annotations

import base64
import html
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

from projector_bundle.projector.formats import CONFIG_JSON

PEER_MARK = "peer-complete"
# Installed by the page before any of its scripts: each peer's own "done" turned into one mark.
MARK_PEER_COMPLETE = f"""
(() => {{
  const mark = () => {{ if (!performance.getEntriesByName('{PEER_MARK}').length) performance.mark('{PEER_MARK}'); }};
  const log = console.log.bind(console);
  console.log = (...args) => {{ if (args[0] === 'Finished loading all data.') mark(); log(...args); }};
  document.addEventListener('datamapDataLoaded', mark);
}})();
"""
# What datamapplot's offline mode fetches from a CDN, taken from the npm registry instead:
# (the URL its cache is keyed by, npm package@version, the file inside the package).
DATAMAPPLOT_JS = [
    ("https://unpkg.com/deck.gl@9.1/dist.min.js", "deck.gl@9.1.8", "dist.min.js"),
    ("https://unpkg.com/apache-arrow@latest/Arrow.es2015.min.js", "apache-arrow@21.2.0", "Arrow.es2015.min.js"),
    ("https://unpkg.com/d3@latest/dist/d3.min.js", "d3@7.9.2", "dist/d3.min.js"),
    ("https://unpkg.com/jquery@3.7.1/dist/jquery.min.js", "jquery@3.7.1", "dist/jquery.min.js"),
    ("https://unpkg.com/d3-cloud@1.2.7/build/d3.layout.cloud.js", "d3-cloud@1.2.7", "build/d3.layout.cloud.js"),
    (
        "https://cdn.datatables.net/1.13.8/js/jquery.dataTables.min.js",
        "datatables.net@1.13.8",
        "js/jquery.dataTables.min.js",
    ),
]
DATAMAPPLOT_CSS = [
    (
        "https://cdn.datatables.net/1.13.8/css/jquery.dataTables.min.css",
        "datatables.net-dt@1.13.8",
        "css/jquery.dataTables.min.css",
    ),
]


def read_bundle(folder: Path) -> tuple[np.ndarray, list[str]]:
    """The first tensor's float32 matrix and its first metadata column (the words), from a full bundle."""
    info = json.loads((folder / CONFIG_JSON).read_text())["embeddings"][0]
    rows, dim = info["tensorShape"]
    matrix = np.fromfile(folder / info["tensorPath"], dtype="<f4").reshape(rows, dim)
    lines = (folder / info["metadataPath"]).read_text(encoding="utf-8").split("\n")[1 : rows + 1]
    return matrix, [line.split("\t", 1)[0] for line in lines]


def umap_2d(matrix: np.ndarray, cache: Path) -> np.ndarray:
    """The 2-D UMAP both peers draw (cosine, umap-learn's defaults otherwise), computed once."""
    if cache.exists():
        return np.load(cache)
    import umap

    print(f"bench: UMAP of {matrix.shape[0]:,} x {matrix.shape[1]} for the peers (minutes, once)", file=sys.stderr)
    coords = umap.UMAP(n_components=2, metric="cosine", random_state=None).fit_transform(matrix)
    np.save(cache, coords.astype(np.float32))
    return np.asarray(coords, dtype=np.float32)


def build_wizmap(out: Path, coords: np.ndarray, words: list[str], address: str) -> str:
    """wizmap's page (its notebook HTML, standalone) with its data.ndjson and grid.json; returns the page name.

    The data are computed once; the page is written for `address`, the folder's URL: its
    worker, started from a data: URL, fetches only absolute URLs."""
    from wizmap import wizmap

    if not (out / "grid.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        xs, ys = coords[:, 0].astype(float).tolist(), coords[:, 1].astype(float).tolist()
        data = wizmap.generate_data_list(xs, ys, words)
        grid = wizmap.generate_grid_dict(xs, ys, words, "word embeddings")
        wizmap.save_json_files(data, grid, output_dir=str(out))
    page = out / "index.html"
    # _make_html escapes the page for an iframe's srcdoc; unescaped, it is the page itself.
    page.write_text(html.unescape(wizmap._make_html(address + "data.ndjson", address + "grid.json")), encoding="utf-8")
    return page.name


def npm_file(cache: Path, package: str, inside: str) -> str:
    """A file of an npm package, fetched once with `npm pack` into `cache`."""
    name, version = package.rsplit("@", 1)
    folder = cache / f"{name}-{version}"
    if not folder.exists():
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "pack", "--silent", package], cwd=cache, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"npm pack {package}: {done.stderr.strip()}")
        with tarfile.open(cache / done.stdout.strip().splitlines()[-1]) as archive:
            archive.extractall(folder, filter="data")
    return (folder / "package" / inside).read_text(encoding="utf-8")


def offline_cache(cache: Path, entries: list[tuple[str, str, str]]) -> dict[str, dict[str, str]]:
    """datamapplot's offline cache format: URL -> base64 content and the variable name it loads under."""
    result = {}
    for url, package, inside in entries:
        host, file = url.split("/")[2], url.rsplit("/", 1)[-1]
        content = npm_file(cache, package, inside)
        result[url] = {
            "encoded_content": base64.b64encode(content.encode("utf-8")).decode("ascii"),
            "name": f"{host.replace('.', '_')}_{file.replace('.', '_')}",
        }
    return result


def build_datamapplot(out: Path, coords: np.ndarray, words: list[str], npm: Path) -> str:
    """datamapplot's interactive page in offline mode (no CDN), its data in files beside it; returns the page name."""
    page = out / "index.html"
    if page.exists():
        return page.name
    out.mkdir(parents=True, exist_ok=True)
    # Its CSS is read from its own cache in the user data folder, where datamapplot would write it;
    # the JavaScript and fonts caches it takes as arguments stay in the bench's folder.
    import platformdirs

    css_cache = Path(platformdirs.user_data_dir("datamapplot", ensure_exists=True)) / "datamapplot_css_encoded.json"
    css_cache.write_text(json.dumps(offline_cache(npm, DATAMAPPLOT_CSS)))
    js_file, fonts_file = out / "offline_js.json", out / "offline_fonts.json"
    js_file.write_text(json.dumps(offline_cache(npm, DATAMAPPLOT_JS)))
    fonts_file.write_text("{}")  # the page's fonts fall back to the system's

    import datamapplot

    # One label layer, as datamapplot expects: the first letter of each word (a coarse, cheap grouping).
    letters = np.array([(w[:1].lower() if w[:1].isalpha() else "other") for w in words], dtype=object)
    plot = datamapplot.create_interactive_plot(
        coords,
        letters,
        hover_text=words,
        inline_data=False,
        offline_data_path=str(out / "data"),
        offline_mode=True,
        offline_mode_js_data_file=str(js_file),
        offline_mode_font_data_file=str(fonts_file),
    )
    plot.save(str(page))
    return page.name
