// The page script of a bundle: opens every tensor on the exact full-data PCA that the
// export computed (no PCA of its own on the main thread), applies that bookmark, and
// keeps the view in the URL hash: #tensor=NAME&bookmark=N&search=TEXT.
//
// It relies on these internals of the projector, read from tensorboard 2.21
// (projector_binary.js; sources in tensorboard/plugins/projector/vz_projector/).
// tests/test_browser_view.py fails when any of them changes:
//   vz-projector: updateDataSet(ds, metadata, file) gets each parsed tensor and
//     hands setCurrentDataSet(ds) a fresh subset (empty projections), which calls
//     projectionsPanel.dataSetUpdated -> showTab("pca") -> showPCA; setSelectedTensor
//     (run, embeddingInfo) when a tensor is chosen; metadataChanged(spriteAndMetadata,
//     file) refreshes the menus, colours and labels from the data set's metadata; the
//     fields normalizeData, dataProvider, bookmarkPanel, inspectorPanel, originalDataSet,
//     projectorScatterPlotAdapter (its updateScatterPlotPositions(), updateScatterPlotAttributes()
//     and render() recompute from the current state, so one call of each at the end is enough).
//   DataSet (data.ts): projectPCA() returns at once when ds.projections["pca-0"] is
//     set; points[i].projections["pca-k"], points[i].index, fracVariancesExplained;
//     spriteAndMetadataInfo.stats (analyzeMetadata's ColumnStats), shared with its
//     subsets (getSubset) as are points[i].metadata.
//   vz-projector-projections-panel: showPCA(), pcaX, pcaY, pcaZ, pcaIs3d, #pca-sampling.
//   vz-projector-bookmark-panel: savedStates, loadSavedState(i), setSelectionState(i, on).
//   vz-projector-data-panel: selectedTensor, _selectedTensorChanged(), projectorConfig.
//   the demo data provider: getBookmarks(run, tensorName, callback).
//   vz-projector-input (the inspector's searchBox): setValue(text, regex), getValue(),
//     registerInputChangedListener(listener).
//   vz-projector: loadState(state) copies a bookmark's projections onto the points;
//     projectorScatterPlotAdapter.generatePointPositionArray(ds, keys) places point i at
//     each axis's d3 scaleLinear from its own extent to [-CUBE/2, CUBE/2] (CUBE =
//     SCATTER_PLOT_CUBE_LENGTH = 2, projectorScatterPlotAdapter.ts).
// Where the bookmark JSON is missing, unreadable or carries no exact view, or where
// these internals are missing, the projector does what it does without this script.
//
// 3-D labels in every script. The projector's 3-D label renderer (ScatterPlotVisualizer3DLabels,
// vz_projector/scatterPlotVisualizer3DLabels.ts) draws each label letter by letter from a glyph
// atlas of U+0000-U+00FF only, so a label with any other character gets NaN coordinates and is
// not drawn (a Cyrillic or CJK token vanishes in the "A" mode). This script lets the renderer
// build its geometry, then redraws the atlas from the characters its labels use and rewrites
// each letter's quad and texture coordinates from it. Internals, read from tensorboard 2.21
// (tests/test_browser_labels3d.py fails when any of them changes):
//   vz-projector: get3DLabelMode() (the #labels3DMode button's click calls it, then the
//     adapter's set3DLabelMode), the field projectorScatterPlotAdapter;
//   the adapter (projectorScatterPlotAdapter.ts): createVisualizers(inLabels3DMode) leaves the
//     renderer in its field labels3DVisualizer;
//   the renderer: createLabels() (called lazily by onRender and onPickingRender) fills the
//     fields labelStrings, totalVertexCount and geometry, a BufferGeometry whose "posObj"
//     attribute holds (at its start) 6 vertices per UTF-16 code unit of each label (two triangles: left-bottom, right-bottom,
//     left-top, left-top, right-bottom, right-top; x in units of the glyph row's height, which
//     is 1) and whose "uv" attribute indexes glyphTexture.texture (a THREE texture of a canvas,
//     flipY false: v = 0 is the canvas's top row).
// Where these are missing, the 3-D labels stay as the projector draws them, with one warning.
(() => {
  "use strict";

  const READ_FROM = "tensorboard 2.21";
  const SHIPPED_COMPONENTS = 3; // a bookmark carries pca-0, pca-1, pca-2
  const EXACT_VIEW = "exactView"; // the bookmark key written by projector_bundle/points/projections.py
  const FRAME = "frame"; // likewise: per axis the [low, high] a compared layout is drawn in (--compare)
  const CUBE = 2; // SCATTER_PLOT_CUBE_LENGTH: the projector draws each axis over [-CUBE/2, CUBE/2]
  const PCA_KEYS = ["pca-0", "pca-1", "pca-2"]; // one for each shipped component

  const Projector = customElements.get("vz-projector");
  const ProjectionsPanel = customElements.get("vz-projector-projections-panel");
  const DataPanel = customElements.get("vz-projector-data-panel");
  const BookmarkPanel = customElements.get("vz-projector-bookmark-panel");
  const NEEDED = [
    [Projector, ["updateDataSet", "setCurrentDataSet", "setSelectedTensor", "loadState", "metadataChanged"]],
    [ProjectionsPanel, ["showPCA", "dataSetUpdated"]],
    [DataPanel, ["_selectedTensorChanged"]],
    [BookmarkPanel, ["loadSavedState", "setSelectionState"]],
  ];
  const missing = NEEDED.flatMap(([element, methods]) =>
    element == null ? ["a custom element"] : methods.filter((m) => typeof element.prototype[m] !== "function")
  );

  // What the page did, for people and for tests: "loading", "exact", "projector" or "unavailable".
  // metadata: "complete" once a light first view has all its columns.
  const status = { view: "loading", tensor: null, warnings: [], metadata: null };
  window.bundleView = status;
  const setView = (view) => {
    status.view = view;
    document.documentElement.dataset.view = view;
    performance.mark(`view-${view}`); // for bench/browser_load.py
  };
  const warn = (text) => {
    status.warnings.push(text);
    console.warn(`view.js: ${text}`);
  };
  const showNote = (text) => {
    const note = document.getElementById("view-note");
    if (note) {
      note.textContent = note.hidden ? text : `${note.textContent} ${text}`;
      note.hidden = false;
    }
  };

  // The projector's element waits inert in index.html's <template id="projector-app">: put
  // in the page in a task after this one, it builds the projector's interface there
  // instead of in the task that ran the 2 MB projector script (half as long each), and
  // after the patches below are in place. In every case, the fallback included.
  const mountProjector = () => {
    const template = document.getElementById("projector-app");
    if (template != null) template.replaceWith(document.importNode(template.content, true));
  };
  setTimeout(mountProjector, 0);

  // --- 3-D labels: an atlas of the characters the labels use ---

  const GLYPH_ROWS = [80, 64, 48, 32, 24, 16]; // row heights tried, largest first (the projector's own is 80)
  const ATLAS_SIDE = 4096; // every WebGL implementation in use takes a 4096 x 4096 texture
  const GLYPH_PAD = 2; // texels between glyphs, so linear filtering does not bleed a neighbour in
  const VERTICES_PER_GLYPH = 6;
  status.labels3D = { state: "not shown" }; // then "drawn" or "unavailable", with counts
  let labelsWarned = false;
  const labelsUnavailable = (what) => {
    status.labels3D = { state: "unavailable" };
    if (!labelsWarned) {
      labelsWarned = true;
      warn(`3-D labels: the projector lacks ${what} (read from ${READ_FROM}); labels with characters past U+00FF are not drawn in 3-D label mode`);
    }
  };

  // Each label's glyphs, one per UTF-16 code unit as the renderer counts them: a surrogate
  // pair is one glyph on its first unit and nothing on its second.
  const glyphsOf = (label) => {
    const glyphs = [];
    for (let i = 0; i < label.length; i++) {
      const high = label.charCodeAt(i);
      const low = label.charCodeAt(i + 1); // NaN past the end
      if (high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        glyphs.push(label.slice(i, i + 2), "");
        i++;
      } else {
        glyphs.push(label[i]);
      }
    }
    return glyphs;
  };

  // The characters drawn once each, packed in rows: glyph -> {x, y, width} in texels. The
  // renderer rebuilds its geometry whenever points move (each t-SNE step): the last atlas is kept.
  let lastAtlas = { key: null, atlas: null };
  const drawAtlas = (characters) => {
    const key = characters.join("");
    if (lastAtlas.key !== key) lastAtlas = { key, atlas: packAtlas(characters) };
    return lastAtlas.atlas;
  };
  const packAtlas = (characters) => {
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d");
    for (const row of GLYPH_ROWS) {
      ctx.font = `bold ${row * 0.75}px roboto`;
      const places = new Map();
      let x = 0;
      let y = 0;
      for (const ch of characters) {
        const width = ctx.measureText(ch).width;
        if (x + width > ATLAS_SIDE) {
          x = 0;
          y += row + GLYPH_PAD;
        }
        places.set(ch, { x, y, width });
        x += width + GLYPH_PAD;
      }
      if (y + row > ATLAS_SIDE) continue; // too many characters for this size: try a smaller one
      canvas.width = ATLAS_SIDE;
      canvas.height = y + row;
      ctx.font = `bold ${row * 0.75}px roboto`; // resizing the canvas reset it
      ctx.textBaseline = "top";
      ctx.fillStyle = "white"; // the projector's label background and colour
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = "black";
      for (const [ch, place] of places) ctx.fillText(ch, place.x, place.y);
      return { canvas, places, row };
    }
    return null;
  };

  // The renderer's geometry rewritten from a new atlas: quads as wide as each glyph, centred.
  const redrawLabels = (renderer) => {
    const labels = renderer.labelStrings;
    const geometry = renderer.geometry;
    const texture = renderer.glyphTexture && renderer.glyphTexture.texture;
    const positions = geometry && typeof geometry.getAttribute === "function" ? geometry.getAttribute("posObj") : null;
    const uvs = positions ? geometry.getAttribute("uv") : null;
    const units = Array.isArray(labels) ? labels.reduce((sum, label) => sum + label.length, 0) : -1;
    const vertices = units * VERTICES_PER_GLYPH;
    if (positions == null || uvs == null || texture == null || renderer.totalVertexCount !== vertices ||
        positions.array.length < 2 * vertices || uvs.array.length < 2 * vertices) {
      labelsUnavailable("the 3-D label renderer's labelStrings, totalVertexCount, geometry posObj/uv or glyphTexture");
      return;
    }
    const glyphs = labels.map(glyphsOf);
    const atlas = drawAtlas([...new Set(glyphs.flat())].filter((ch) => ch !== ""));
    if (atlas == null) {
      labelsUnavailable(`room for ${new Set(glyphs.flat()).size} characters in a ${ATLAS_SIDE}-texel atlas`);
      return;
    }
    const { canvas, places, row } = atlas;
    const pos = positions.array;
    const uv = uvs.array;
    let vertex = 0;
    for (const label of glyphs) {
      let left = -label.reduce((sum, ch) => sum + (ch === "" ? 0 : places.get(ch).width), 0) / row / 2;
      for (const ch of label) {
        const place = ch === "" ? { x: 0, y: 0, width: 0 } : places.get(ch);
        const right = left + place.width / row;
        const u0 = place.x / canvas.width;
        const u1 = (place.x + place.width) / canvas.width;
        const top = place.y / canvas.height; // v of the glyph's top (flipY false)
        const bottom = (place.y + row) / canvas.height;
        const corners = [[left, 0, u0, bottom], [right, 0, u1, bottom], [left, 1, u0, top],
                         [left, 1, u0, top], [right, 0, u1, bottom], [right, 1, u1, top]]; // prettier-ignore
        for (const [px, py, pu, pv] of corners) {
          pos[2 * vertex] = px;
          pos[2 * vertex + 1] = py;
          uv[2 * vertex] = pu;
          uv[2 * vertex + 1] = pv;
          vertex++;
        }
        left = right;
      }
    }
    positions.needsUpdate = true;
    uvs.needsUpdate = true;
    texture.image = canvas;
    texture.needsUpdate = true;
    status.labels3D = { state: "drawn", labels: labels.length, glyphs: places.size, rowHeight: row, atlas: canvas };
  };

  const patchRenderer = (renderer) => {
    const proto = Object.getPrototypeOf(renderer);
    if (proto.labelsForEveryScript) return;
    proto.labelsForEveryScript = true;
    if (typeof proto.createLabels !== "function") {
      labelsUnavailable("the 3-D label renderer's createLabels()");
      return;
    }
    const originalCreateLabels = proto.createLabels;
    proto.createLabels = function () {
      originalCreateLabels.call(this);
      if (this.geometry != null) redrawLabels(this);
    };
  };

  const patchAdapter = (adapter) => {
    const proto = adapter == null ? null : Object.getPrototypeOf(adapter);
    if (proto == null || typeof proto.createVisualizers !== "function") {
      labelsUnavailable("projectorScatterPlotAdapter.createVisualizers()");
      return;
    }
    if (proto.labelsForEveryScript) return;
    proto.labelsForEveryScript = true;
    const originalCreateVisualizers = proto.createVisualizers;
    proto.createVisualizers = function (inLabels3DMode) {
      const result = originalCreateVisualizers.call(this, inLabels3DMode);
      if (inLabels3DMode) {
        if (this.labels3DVisualizer == null) labelsUnavailable("the adapter's labels3DVisualizer");
        else patchRenderer(this.labels3DVisualizer);
      }
      return result;
    };
  };

  if (Projector == null || typeof Projector.prototype.get3DLabelMode !== "function") {
    labelsUnavailable("vz-projector's get3DLabelMode()");
  } else {
    const originalGet3DLabelMode = Projector.prototype.get3DLabelMode;
    Projector.prototype.get3DLabelMode = function () {
      patchAdapter(this.projectorScatterPlotAdapter);
      return originalGet3DLabelMode.call(this);
    };
  }

  if (missing.length > 0) {
    setView("unavailable");
    warn(`the projector lacks ${missing.join(", ")} (read from ${READ_FROM}); it computes its own PCA`);
    return;
  }

  // A promise kept in a later task, so that long work is split between tasks
  // (the page stays responsive, and no task holds the first view back for long).
  const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

  // The scatter plot's redraws, held while a tensor's view is set up and done once at the
  // end: the projector recomputes and draws every point at each step (the data set, its
  // PCA, the bookmark, its colour and label options). Returns the function that releases them.
  const REDRAWS = ["updateScatterPlotPositions", "updateScatterPlotAttributes", "render"];
  const holdRedraws = (adapter) => {
    if (adapter == null || REDRAWS.some((name) => typeof adapter[name] !== "function")) return () => {};
    const asked = new Set();
    for (const name of REDRAWS) adapter[name] = () => void asked.add(name);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const name of REDRAWS) delete adapter[name]; // the class's own methods again
      for (const name of REDRAWS) if (asked.has(name)) adapter[name]();
    };
  };

  // --- the URL hash ---

  const readHash = () => {
    const params = new URLSearchParams(location.hash.slice(1));
    return { tensor: params.get("tensor"), bookmark: params.get("bookmark"), search: params.get("search") };
  };
  const linkPart = (key, value) => `${key}=${encodeURIComponent(value).replace(/%2F/g, "/")}`;
  const writeHash = (projector) => {
    const parts = [];
    if (status.tensor != null) parts.push(linkPart("tensor", status.tensor));
    const selected = projector.bookmarkPanel.savedStates.findIndex((s) => s.isSelected);
    if (selected >= 0) parts.push(linkPart("bookmark", selected + 1));
    const search = projector.inspectorPanel.searchBox.getValue();
    if (search) parts.push(linkPart("search", search));
    const hash = parts.length > 0 ? `#${parts.join("&")}` : "";
    if (hash !== location.hash) history.replaceState(null, "", hash || location.pathname + location.search);
  };

  // --- bookmarks: fetched once per tensor, as soon as the tensor is chosen ---

  const bookmarkLists = new Map(); // tensorName -> Promise of the list, or of null when there is none to use
  const fetchBookmarks = (info) => {
    if (!bookmarkLists.has(info.tensorName)) {
      const list = !info.bookmarksPath
        ? Promise.resolve(null)
        : fetch(info.bookmarksPath)
            .then((response) => {
              if (!response.ok) throw new Error(`HTTP ${response.status}`);
              return response.json();
            })
            .then((value) => {
              if (!Array.isArray(value)) throw new Error("not a JSON list of bookmarks");
              return value;
            })
            .catch((error) => {
              warn(`${info.bookmarksPath}: ${error.message}; the projector computes its own PCA`);
              return null;
            });
      bookmarkLists.set(info.tensorName, list);
    }
    return bookmarkLists.get(info.tensorName);
  };

  // The first bookmark holding the exact PCA of a data set of this shape.
  const findExact = (list, rows, dim) => {
    const index = list.findIndex((state) => {
      const view = state && state[EXACT_VIEW];
      const shape = state && state.dataSetDimensions;
      return (
        view != null &&
        state.selectedProjection === "pca" &&
        Array.isArray(shape) && shape[0] === rows && shape[1] === dim &&
        Array.isArray(view.variance) && view.variance.length >= Math.min(SHIPPED_COMPONENTS, dim) &&
        (view.coordinates === "vectors"
          ? dim >= SHIPPED_COMPONENTS
          : view.coordinates === "projections" && Array.isArray(state.projections) && state.projections.length === rows)
      );
    });
    return index < 0 ? null : { index, state: list[index], view: list[index][EXACT_VIEW], rows };
  };

  // --- the exact PCA, set on the data set before the projector looks for pca-0 ---

  let current = null; // the chosen tensor's EmbeddingInfo
  let exact = null; // findExact's answer for the tensor on screen
  const exactSets = new WeakMap(); // DataSet carrying the exact PCA -> the display #pca-sampling had

  const setExact = (ds, found) => {
    const { state, view } = found;
    for (const point of ds.points) {
      const source = view.coordinates === "vectors" ? null : state.projections[point.index];
      const projections = point.projections;
      for (let k = 0; k < SHIPPED_COMPONENTS; k++) {
        projections[PCA_KEYS[k]] = source == null ? point.vector[k] : source[PCA_KEYS[k]];
      }
    }
    for (const key of PCA_KEYS) ds.projections[key] = true;
    ds.fracVariancesExplained = view.variance.slice();
  };

  // --- one frame for the layouts of a comparison (--compare) ---
  // The projector scales each axis of a layout to that layout's own extent, so two layouts that
  // agree on every unchanged point would still draw it in two places. A bookmark with a frame
  // (the export's aligned views, and the PCA of the space they are aligned to) is drawn in it.

  let frame = null; // the frame of the layout on screen, or null
  const frameOf = (state) => {
    const value = state == null ? null : state[FRAME];
    const valid = Array.isArray(value) && value.length === SHIPPED_COMPONENTS &&
      value.every((pair) => Array.isArray(pair) && pair.length === 2 && pair.every(Number.isFinite));
    return valid ? value : null;
  };
  let adapterChecked = false;
  const drawInFrame = (projector) => {
    if (adapterChecked) return;
    adapterChecked = true;
    const adapter = projector.projectorScatterPlotAdapter;
    const proto = adapter == null ? null : Object.getPrototypeOf(adapter);
    if (proto == null || typeof proto.generatePointPositionArray !== "function") {
      warn(`the projector lacks projectorScatterPlotAdapter.generatePointPositionArray (read from ${READ_FROM}); compared layouts are drawn each in its own extent`);
      return;
    }
    const originalPositions = proto.generatePointPositionArray;
    proto.generatePointPositionArray = function (ds, keys) {
      const pca = keys != null && keys[0] === "pca-0" && keys[1] === "pca-1" && (keys[2] == null || keys[2] === "pca-2");
      if (frame == null || ds == null || !pca) return originalPositions.call(this, ds, keys);
      const axes = keys[2] == null ? 2 : 3;
      const positions = new Float32Array(ds.points.length * 3);
      ds.points.forEach((point, i) => {
        for (let a = 0; a < axes; a++) {
          const [low, high] = frame[a];
          // As d3's scaleLinear: the frame's extent onto the cube; a flat axis at its middle.
          positions[i * 3 + a] = high > low ? ((point.projections[keys[a]] - low) / (high - low)) * CUBE - CUBE / 2 : 0;
        }
      });
      return positions;
    };
  };

  const originalLoadState = Projector.prototype.loadState;
  Projector.prototype.loadState = function (state) {
    frame = frameOf(state);
    return originalLoadState.call(this, state);
  };

  const dropExact = (ds, panel) => {
    frame = null;
    for (const point of ds.points) {
      for (let k = 0; k < SHIPPED_COMPONENTS; k++) delete point.projections[`pca-${k}`];
    }
    for (let k = 0; k < SHIPPED_COMPONENTS; k++) delete ds.projections[`pca-${k}`];
    panel.$$("#pca-sampling").style.display = exactSets.get(ds);
    exactSets.delete(ds);
  };

  const originalSetCurrentDataSet = Projector.prototype.setCurrentDataSet;
  Projector.prototype.setCurrentDataSet = function (ds) {
    // Only the whole tensor, spherized as the export did: a filtered subset or a
    // toggled "Spherize data" gets the projector's own PCA, as before.
    const applies = ds != null && exact != null && ds.points.length === exact.rows &&
      this.normalizeData === Boolean(exact.view.spherize);
    if (applies) setExact(ds, exact);
    frame = applies ? frameOf(exact.state) : null;
    drawInFrame(this);
    originalSetCurrentDataSet.call(this, ds);
    if (applies) {
      const notice = this.projectionsPanel.$$("#pca-sampling"); // "PCA is approximate."
      exactSets.set(ds, notice.style.display);
      notice.style.display = "none";
    }
  };

  // A component beyond the shipped three: the projector computes its own PCA.
  const originalShowPCA = ProjectionsPanel.prototype.showPCA;
  ProjectionsPanel.prototype.showPCA = function () {
    const ds = this.dataSet;
    if (ds != null && exactSets.has(ds)) {
      const chosen = [this.pcaX, this.pcaY].concat(this.pcaIs3d ? [this.pcaZ] : []);
      if (chosen.some((c) => c >= SHIPPED_COMPONENTS)) dropExact(ds, this);
    }
    return originalShowPCA.call(this);
  };

  // --- the projector's hooks: tensor chosen, tensor parsed ---

  let firstTensor = true;
  const originalSelectedTensorChanged = DataPanel.prototype._selectedTensorChanged;
  DataPanel.prototype._selectedTensorChanged = function () {
    if (firstTensor && this.selectedTensor != null) {
      firstTensor = false;
      restOfMetadata = restOfMetadataFor(this.projectorConfig);
      const wanted = readHash().tensor;
      const names = (this.projectorConfig?.embeddings ?? []).map((e) => e.tensorName);
      if (wanted != null && wanted !== this.selectedTensor) {
        if (names.includes(wanted)) {
          this.selectedTensor = wanted; // the projector's observer calls this again for it
          return undefined;
        }
        showNote(`This link names tensor "${wanted}", which this bundle does not have; showing "${this.selectedTensor}".`);
      }
    }
    return originalSelectedTensorChanged.call(this);
  };

  const originalSetSelectedTensor = Projector.prototype.setSelectedTensor;
  Projector.prototype.setSelectedTensor = function (run, info) {
    current = info ?? null;
    exact = null;
    setView("loading");
    if (info != null) {
      fetchBookmarks(info);
      const provider = this.dataProvider;
      if (provider != null && !provider.servedByViewJs) {
        // The bookmark panel asks for the same file: serve it the copy fetched here,
        // and an empty list where it is missing or malformed (the projector would throw).
        const originalGetBookmarks = provider.getBookmarks;
        provider.getBookmarks = (runName, tensorName, callback) => {
          const list = bookmarkLists.get(tensorName);
          if (list == null) return originalGetBookmarks.call(provider, runName, tensorName, callback);
          list.then((value) => callback(value ?? []));
          return undefined;
        };
        provider.servedByViewJs = true;
      }
    }
    return originalSetSelectedTensor.call(this, run, info);
  };

  let hashListened = false;
  let wantedNext = null; // what the hash asks of the next tensor shown
  const originalUpdateDataSet = Projector.prototype.updateDataSet;
  Projector.prototype.updateDataSet = function (ds, metadata, file) {
    const tensor = current;
    if (ds == null || tensor == null) return originalUpdateDataSet.call(this, ds, metadata, file);
    performance.mark("tensor-parsed"); // vectors and metadata parsed; for bench/browser_load.py
    // Wait for the bookmarks (they are far smaller than the tensor and asked for at
    // the same time, so they are usually here already), then build the scatter plot in
    // a task of its own: not in the one that finished parsing the metadata.
    Promise.all([fetchBookmarks(tensor), nextTask()]).then(([list]) => {
      if (current !== tensor) return; // another tensor was chosen meanwhile
      exact = list == null ? null : findExact(list, ds.dim[0], ds.dim[1]);
      if (list != null && exact == null) {
        warn(`${tensor.bookmarksPath}: no exact PCA for ${ds.dim[0]} x ${ds.dim[1]}; the projector computes its own PCA`);
      }
      const releaseRedraws = holdRedraws(this.projectorScatterPlotAdapter);
      try {
        originalUpdateDataSet.call(this, ds, metadata, file);
      } catch (error) {
        releaseRedraws();
        throw error;
      }
      status.tensor = tensor.tensorName;
      if (!hashListened) {
        listenToView(this);
        wantedNext = readHash();
      }
      const wanted = wantedNext ?? {};
      wantedNext = null;
      // After the projector's own showPCA().then, queued by originalUpdateDataSet (it
      // announces a new projection, which unselects any bookmark), in a task of its own;
      // then the one redraw, in the next.
      nextTask()
        .then(() => {
          if (current === tensor) showView(this, wanted);
        })
        .finally(nextTask) // the one redraw, in a task of its own
        .finally(releaseRedraws)
        .then(() => {
          if (current !== tensor) return;
          setView(exact != null ? "exact" : "projector");
          if (restOfMetadata != null && tensor.tensorName === restOfMetadata.light) {
            mergeRestOfMetadata(this, restOfMetadata).catch((error) => warn(`${restOfMetadata.path}: ${error.message}`));
          }
        });
    });
    return undefined;
  };

  // After a tensor is on screen: its exact bookmark (or the one the link names) applied.
  const showView = (projector, wanted) => {
    const panel = projector.bookmarkPanel;
    let bookmark = exact == null ? null : exact.index;
    if (wanted.bookmark != null) {
      const number = Number(wanted.bookmark);
      if (Number.isInteger(number) && number >= 1 && number <= panel.savedStates.length) {
        bookmark = number - 1;
      } else {
        showNote(`This link names bookmark ${wanted.bookmark}, which tensor "${status.tensor}" does not have; showing its exact PCA.`);
      }
    }
    // Setting the search sets the selection (an empty one clears it): a cleared search goes
    // before the bookmark, whose selected points (a cluster's) it would otherwise undo; a
    // search goes after, so its matches are what is selected.
    const searchBox = projector.inspectorPanel.searchBox;
    const search = wanted.search != null && wanted.search !== searchBox.getValue() ? wanted.search : null;
    if (search === "") searchBox.setValue("", false);
    // loadSavedState toggles: on a bookmark already selected it would deselect it.
    // As its radio button does: load, then mark it selected (loading announces a projection).
    if (bookmark != null && !panel.savedStates[bookmark].isSelected) {
      panel.loadSavedState(bookmark);
      panel.setSelectionState(bookmark, true);
    }
    if (search) searchBox.setValue(search, false);
    writeHash(projector);
  };

  // --- the light first view's other metadata columns, brought once it is on screen ---

  // The page's own facts (index.html's #bundle-info-data): with a light first view, its
  // tensor's metadata has only the columns that view shows; the full tensor's has them all.
  const restOfMetadataFor = (config) => {
    const data = document.getElementById("bundle-info-data");
    const firstView = data == null ? null : JSON.parse(data.textContent).first_view;
    if (firstView == null) return null;
    const byName = new Map((config?.embeddings ?? []).map((e) => [e.tensorName, e]));
    const light = byName.get(firstView.light);
    const full = byName.get(firstView.full);
    if (light == null || full == null || !full.metadataPath || light.metadataPath === full.metadataPath) return null;
    return { light: firstView.light, path: full.metadataPath };
  };
  let restOfMetadata = null; // {light: tensor name, path: the full metadata file}, or null
  const ROWS_PER_TASK = 5000;

  // The projector's analyzeMetadata for one column, as it does it: each cell that reads as a
  // number becomes one (in place), the column is numeric where every cell does, and the
  // counts of its values are kept up to 50 distinct ones (the colour map's limit).
  const MAX_COLOURS = 50;
  const columnStats = (name, metadataList) => {
    const stats = { name, isNumeric: true, tooManyUniqueValues: false, min: Infinity, max: -Infinity };
    const counts = new Map();
    for (const metadata of metadataList) {
      const value = metadata[name];
      if (value == null) continue;
      if (!stats.tooManyUniqueValues) {
        counts.set(value, (counts.get(value) ?? 0) + 1);
        if (counts.size > MAX_COLOURS) stats.tooManyUniqueValues = true;
      }
      if (isNaN(value)) {
        stats.isNumeric = false;
      } else {
        metadata[name] = +value;
        stats.min = Math.min(stats.min, +value);
        stats.max = Math.max(stats.max, +value);
      }
    }
    stats.uniqueEntries = [...counts].map(([label, count]) => ({ label, count }));
    return stats;
  };

  // Fetches the full metadata, parses it as the projector's parseMetadata does (blank
  // lines skipped, empty cells null; our writer escapes tabs and newlines inside cells),
  // a few thousand rows a task, adds the missing columns to every point and tells the
  // projector its metadata changed (menus, colours, labels).
  const mergeRestOfMetadata = async (projector, rest) => {
    const response = await fetch(rest.path);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const lines = (await response.text()).split("\n").filter((line) => line.trim().length > 0);
    const ds = projector.originalDataSet;
    const info = ds?.spriteAndMetadataInfo;
    if (info?.stats == null || current == null || current.tensorName !== rest.light) return;
    const header = lines[0].split("\t");
    const have = new Set(info.stats.map((s) => s.name));
    const added = header.map((name, column) => [name, column]).filter(([name]) => !have.has(name));
    if (added.length === 0) return;
    if (lines.length - 1 !== ds.points.length) {
      throw new Error(`${lines.length - 1} rows for ${ds.points.length} points; the other columns are left out`);
    }
    for (let start = 0; start < ds.points.length; start += ROWS_PER_TASK) {
      await nextTask();
      if (projector.originalDataSet !== ds) return; // another tensor is on screen now
      const end = Math.min(start + ROWS_PER_TASK, ds.points.length);
      for (let i = start; i < end; i++) {
        const cells = lines[i + 1].split("\t");
        const metadata = ds.points[i].metadata;
        for (const [name, column] of added) {
          const value = cells[column];
          metadata[name] = value === "" || value === undefined ? null : value;
        }
      }
    }
    await nextTask();
    if (projector.originalDataSet !== ds) return;
    const metadataList = ds.points.map((p) => p.metadata);
    const stats = new Map(info.stats.map((s) => [s.name, s]));
    for (const [name] of added) stats.set(name, columnStats(name, metadataList));
    info.stats = header.map((name) => stats.get(name)).concat(info.stats.filter((s) => !header.includes(s.name)));
    await nextTask();
    if (projector.originalDataSet !== ds) return;
    projector.metadataChanged(info, rest.path);
    status.metadata = "complete";
    performance.mark("metadata-complete"); // for bench/browser_load.py
  };

  // Changing the view rewrites the hash; editing the hash changes the view.
  const listenToView = (projector) => {
    hashListened = true;
    projector.inspectorPanel.searchBox.registerInputChangedListener(() => writeHash(projector));
    const originalSetSelectionState = BookmarkPanel.prototype.setSelectionState;
    BookmarkPanel.prototype.setSelectionState = function (index, selected) {
      originalSetSelectionState.call(this, index, selected);
      writeHash(projector);
    };
    window.addEventListener("hashchange", () => {
      const wanted = readHash();
      const dataPanel = projector.dataPanel;
      const names = (dataPanel.projectorConfig?.embeddings ?? []).map((e) => e.tensorName);
      if (wanted.tensor != null && wanted.tensor !== status.tensor) {
        if (names.includes(wanted.tensor)) {
          wantedNext = wanted;
          dataPanel.selectedTensor = wanted.tensor;
          return;
        }
        showNote(`This link names tensor "${wanted.tensor}", which this bundle does not have.`);
      }
      showView(projector, { bookmark: wanted.bookmark, search: wanted.search ?? "" });
      setView(exact != null ? "exact" : "projector");
    });
  };
})();
