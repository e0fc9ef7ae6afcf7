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
//     (run, embeddingInfo) when a tensor is chosen; the fields normalizeData,
//     dataProvider, bookmarkPanel, inspectorPanel.
//   DataSet (data.ts): projectPCA() returns at once when ds.projections["pca-0"] is
//     set; points[i].projections["pca-k"], points[i].index, fracVariancesExplained.
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
(() => {
  "use strict";

  const READ_FROM = "tensorboard 2.21";
  const SHIPPED_COMPONENTS = 3; // a bookmark carries pca-0, pca-1, pca-2
  const EXACT_VIEW = "exactView"; // the bookmark key written by projector_bundle/points/projections.py
  const FRAME = "frame"; // likewise: per axis the [low, high] a compared layout is drawn in (--compare)
  const CUBE = 2; // SCATTER_PLOT_CUBE_LENGTH: the projector draws each axis over [-CUBE/2, CUBE/2]

  const Projector = customElements.get("vz-projector");
  const ProjectionsPanel = customElements.get("vz-projector-projections-panel");
  const DataPanel = customElements.get("vz-projector-data-panel");
  const BookmarkPanel = customElements.get("vz-projector-bookmark-panel");
  const NEEDED = [
    [Projector, ["updateDataSet", "setCurrentDataSet", "setSelectedTensor", "loadState"]],
    [ProjectionsPanel, ["showPCA", "dataSetUpdated"]],
    [DataPanel, ["_selectedTensorChanged"]],
    [BookmarkPanel, ["loadSavedState", "setSelectionState"]],
  ];
  const missing = NEEDED.flatMap(([element, methods]) =>
    element == null ? ["a custom element"] : methods.filter((m) => typeof element.prototype[m] !== "function")
  );

  // What the page did, for people and for tests: "loading", "exact", "projector" or "unavailable".
  const status = { view: "loading", tensor: null, warnings: [] };
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

  if (missing.length > 0) {
    setView("unavailable");
    warn(`the projector lacks ${missing.join(", ")} (read from ${READ_FROM}); it computes its own PCA`);
    return;
  }

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
      for (let k = 0; k < SHIPPED_COMPONENTS; k++) {
        point.projections[`pca-${k}`] = source == null ? point.vector[k] : source[`pca-${k}`];
      }
    }
    for (let k = 0; k < SHIPPED_COMPONENTS; k++) ds.projections[`pca-${k}`] = true;
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
    // the same time, so they are usually here already).
    fetchBookmarks(tensor).then((list) => {
      if (current !== tensor) return; // another tensor was chosen meanwhile
      exact = list == null ? null : findExact(list, ds.dim[0], ds.dim[1]);
      if (list != null && exact == null) {
        warn(`${tensor.bookmarksPath}: no exact PCA for ${ds.dim[0]} x ${ds.dim[1]}; the projector computes its own PCA`);
      }
      originalUpdateDataSet.call(this, ds, metadata, file);
      status.tensor = tensor.tensorName;
      if (!hashListened) {
        listenToView(this);
        wantedNext = readHash();
      }
      const wanted = wantedNext ?? {};
      wantedNext = null;
      // After the projector's own showPCA().then, queued by originalUpdateDataSet:
      // it announces a new projection, which unselects any bookmark.
      Promise.resolve().then(() => showView(this, wanted));
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
    setView(exact != null ? "exact" : "projector");
    writeHash(projector);
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
    });
  };
})();
