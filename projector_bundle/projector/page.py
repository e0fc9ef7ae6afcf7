"""The page: the Jinja-rendered index.html and the projector script it mounts."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from projector_bundle import ExportError, __version__
from projector_bundle.projector.formats import CONFIG_JSON, PROJECTOR_JS, PROJECTOR_NOTICE, VIEW_JS
from projector_bundle.text import describe_size

if TYPE_CHECKING:
    from projector_bundle.context.geometry import GeometryView
    from projector_bundle.models.loader import ModelRef
    from projector_bundle.points.tensors import Tensor

PAGE_TEMPLATE = "index.html.j2"
# Our page script: opens each tensor on its exact PCA bookmark and keeps the view in the hash.
PROJECTOR_IN_WHEEL = Path("plugins", "projector", "tf_projector_plugin", PROJECTOR_JS)


@dataclass(frozen=True)
class TensorSummary:
    name: str
    points: int
    dimension: int


@dataclass(frozen=True)
class FirstView:
    """The light first tensor and the full one it stands for, with what each costs to fetch."""

    light: str
    full: str
    light_size: str  # its .bytes file: "0.4 MB"
    full_size: str


@dataclass(frozen=True)
class PageInfo:
    """What the page says about the bundle: which model, what shapes, how and when it was made."""

    title: str
    model_name: str
    tensors: tuple[TensorSummary, ...]
    tool_version: str
    created: str  # ISO 8601, UTC
    command: str
    projector_version: str
    projector_link: str | None = None  # projector.tensorflow.org opening the remote config (--base-url)
    geometry: tuple[GeometryView, ...] = ()  # per-layer geometry tables and charts (--sentences); not in info_json
    first_view: FirstView | None = None  # --first-view light


def describe_page(
    refs: Sequence[ModelRef],
    sources: Sequence[str],
    tensors: Sequence[Tensor],
    *,
    command: str,
    created: str,
    projector_link: str | None,
    geometry: Sequence[GeometryView] = (),
    first_view: bool = False,
) -> PageInfo:
    """What the page says: the models by their public names (and `sources`, the names of the
    user's own vectors), and each tensor's shape. With `first_view`, the first tensor is the
    light view of the second."""
    names = ", ".join([*sources, *(ref.public_name for ref in refs)])
    return PageInfo(
        title=f"{names} embeddings",
        model_name=names,
        tensors=tuple(TensorSummary(t.name, *t.matrix.shape) for t in tensors),
        tool_version=__version__,
        created=created,
        command=command,
        projector_version=projector_version(),
        projector_link=projector_link,
        geometry=tuple(geometry),
        first_view=FirstView(tensors[0].name, tensors[1].name, _size(tensors[0]), _size(tensors[1]))
        if first_view
        else None,
    )


def _size(tensor: Tensor) -> str:
    """The size of a tensor's .bytes file (float32)."""
    return describe_size(tensor.matrix.shape[0] * tensor.matrix.shape[1] * 4)


def templates_folder() -> Path:
    """The page templates, inside the package: `projector_bundle/templates` is a link to the repository's
    top-level templates/ in a checkout, and a real folder in a wheel (the build follows the link)."""
    folder = Path(__file__).resolve().parent.parent / "templates"
    if not (folder / PAGE_TEMPLATE).is_file():
        raise ExportError(f"the page template {PAGE_TEMPLATE} is missing from {folder}")
    return folder


def render_page(info: PageInfo) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_folder()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    # The page's data script keeps to the bundle's facts; the geometry is drawn as HTML instead.
    info_json = {key: value for key, value in asdict(info).items() if key != "geometry"}
    return env.get_template(PAGE_TEMPLATE).render(
        info=info,
        info_json=info_json,
        config_path=CONFIG_JSON,
        projector_js=PROJECTOR_JS,
        notice=PROJECTOR_NOTICE,
        view_js=VIEW_JS,
    )


def projector_version() -> str:
    try:
        return importlib.metadata.version("tensorboard")
    except importlib.metadata.PackageNotFoundError:
        raise ExportError("the projector page needs the tensorboard package (see requirements.txt)") from None


def copy_projector(dest: Path) -> None:
    """Copy the standalone projector out of the installed tensorboard wheel, with its licence,
    and our page script that drives it."""
    spec = importlib.util.find_spec("tensorboard")
    if spec is None or not spec.submodule_search_locations:
        raise ExportError("the projector page needs the tensorboard package (see requirements.txt)")
    script = Path(spec.submodule_search_locations[0]) / PROJECTOR_IN_WHEEL
    if not script.is_file():
        raise ExportError(f"tensorboard {projector_version()} does not ship {PROJECTOR_IN_WHEEL}")
    shutil.copyfile(script, dest / PROJECTOR_JS)
    shutil.copyfile(templates_folder() / VIEW_JS, dest / VIEW_JS)
    (dest / PROJECTOR_NOTICE).write_text(_notice(), encoding="utf-8")


def _notice() -> str:
    version = projector_version()
    licence = next(
        (f for f in importlib.metadata.files("tensorboard") or [] if f.name in ("LICENSE", "LICENSE.txt")),
        None,
    )
    text = licence.read_text(encoding="utf-8") if licence is not None else ""
    return (
        f"{PROJECTOR_JS} is the TensorFlow Embedding Projector, copied unchanged from the\n"
        f"tensorboard {version} wheel (tensorboard/{PROJECTOR_IN_WHEEL.as_posix()}).\n"
        "Copyright The TensorFlow Authors. Licensed under the Apache License, Version 2.0.\n\n" + text
    )
