"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    file: $("file"), fileInfo: $("file-info"), sample: $("sample"),
    colors: $("colors"), colorsRange: $("colors-range"), space: $("space"),
    dither: $("dither"), ditherOut: $("dither-out"), ditherMethod: $("dither-method"),
    format: $("format"), formatHelp: $("format-help"),
    target: $("target"), targetValue: $("target-value"),
    download: $("download"), downloadText: $("download-text"),
    results: $("results"), statusText: $("status-text"), error: $("error"),
    empty: $("empty"), content: $("content"),
    splitStage: $("split-stage"), split: $("split"), splitOriginal: $("split-original"),
    splitResult: $("split-result"), chipRight: $("chip-right"),
    originalImage: $("original-image"), resultImage: $("result-image"),
    originalCaption: $("original-caption"), resultCaption: $("result-caption"),
    palette: $("palette"), paletteCount: $("palette-count"), paletteSection: $("palette-section"),
    animationNote: $("animation-note"),
  };
  const maxUploadBytes = Number(document.body.dataset.maxUploadBytes) || Infinity;
  const maxUploadMb = document.body.dataset.maxUploadMb;
  // Typing "1" on the way to "16" should not start a compression.
  const DEBOUNCE_MS = 250;
  const TARGETS = {
    min_ssimulacra2: { value: "70", min: "-100", max: "100", step: "1", label: (v) => `SSIMULACRA2 ≥ ${v}` },
    min_ssim: { value: "0.95", min: "0.01", max: "1", step: "0.005", label: (v) => `SSIM ≥ ${v}` },
    max_delta_e: { value: "2", min: "0.1", max: "100", step: "0.1", label: (v) => `CIEDE2000 ≤ ${v}` },
    max_bytes: { value: "100000", min: "1", max: "", step: "1000", label: (v) => `≤ ${int(v)} bytes` },
  };

  const DITHER_NAMES = { none: "no dithering", diffusion: "error diffusion", ordered: "ordered dithering" };
  const FORMAT_NAMES = { png: "PNG", webp: "WebP", gif: "GIF", apng: "APNG" };
  const FORMAT_LABELS = { png: "indexed PNG", webp: "WebP lossless", gif: "GIF", apng: "animated PNG" };
  const ANIMATION_NAMES = { apng: "animated PNG (APNG)", webp: "animated WebP (lossless)", gif: "animated GIF" };
  const FORMAT_HELP = el.formatHelp.textContent;

  const state = { file: null, originalUrl: null, downloadUrl: null, timer: 0, controller: null, seq: 0 };

  const int = (n) => Number(n).toLocaleString("en-US", { maximumFractionDigits: 0 });
  function human(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
    return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
  }
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  // -- status -----------------------------------------------------------------

  function setStatus(kind, text) {
    el.results.dataset.state = kind;
    el.results.setAttribute("aria-busy", kind === "busy" ? "true" : "false");
    el.statusText.textContent = text;
  }

  function showError(message) {
    el.error.textContent = message;
    el.error.hidden = false;
  }

  function clearError() {
    el.error.hidden = true;
    el.error.textContent = "";
  }

  // -- inputs -----------------------------------------------------------------

  function readColors() {
    const text = el.colors.value.trim();
    const n = Number(text);
    const ok = /^\d+$/.test(text) && n >= 2 && n <= 256;
    el.colors.setAttribute("aria-invalid", ok ? "false" : "true");
    return ok ? n : null;
  }

  function syncColorsRange(n) {
    el.colorsRange.value = String(Math.log2(n));
    el.colorsRange.setAttribute("aria-valuetext", plural(n, "colour"));
  }

  function readTarget() {
    const name = el.target.value;
    if (!name) return { name: "", value: "" };
    const text = el.targetValue.value.trim();
    const v = Number(text);
    let ok = text !== "" && Number.isFinite(v);
    if (name === "min_ssimulacra2") ok = ok && v <= 100;
    if (name === "min_ssim") ok = ok && v > 0 && v <= 1;
    if (name === "max_delta_e") ok = ok && v > 0;
    if (name === "max_bytes") ok = ok && Number.isInteger(v) && v >= 1;
    el.targetValue.setAttribute("aria-invalid", ok ? "false" : "true");
    return ok ? { name, value: text } : null;
  }

  function onTargetChange() {
    const spec = TARGETS[el.target.value];
    el.targetValue.disabled = !spec;
    if (spec) {
      el.targetValue.value = spec.value;
      el.targetValue.min = spec.min;
      el.targetValue.max = spec.max;
      el.targetValue.step = spec.step;
    } else {
      el.targetValue.value = "";
      el.targetValue.removeAttribute("aria-invalid");
    }
    schedule(0);
  }

  function setFile(file) {
    if (!file) return;
    state.file = file;
    if (state.originalUrl) URL.revokeObjectURL(state.originalUrl);
    state.originalUrl = URL.createObjectURL(file);
    el.originalImage.src = el.splitOriginal.src = state.originalUrl;
    el.splitResult.removeAttribute("src");
    el.resultImage.removeAttribute("src");
    el.fileInfo.replaceChildren();
    const name = document.createElement("strong");
    name.textContent = file.name || "pasted image";
    el.fileInfo.append(name, ` · ${human(file.size)}`);
    el.fileInfo.title = file.name || "";
    el.fileInfo.hidden = false;
    el.originalCaption.textContent = `${int(file.size)} bytes`;
    el.animationNote.hidden = true;
    delete el.animationNote.dataset.frames;
    el.empty.hidden = true;
    el.content.hidden = false;
    disableDownload();
    schedule(0);
  }

  // -- compression ----------------------------------------------------------------

  function schedule(delay = DEBOUNCE_MS) {
    clearTimeout(state.timer);
    state.timer = setTimeout(compress, delay);
  }

  // A result of settings that are no longer valid must not arrive later and look current.
  function refuse(message, status) {
    if (state.controller) state.controller.abort();
    state.seq += 1;
    showError(message);
    setStatus("error", status);
  }

  async function compress() {
    if (!state.file) return;
    const colors = readColors();
    const target = readTarget();
    if (colors === null) {
      return refuse("Colours must be a whole number from 2 to 256.", "Check the settings");
    }
    if (target === null) {
      return refuse("Enter a valid target value: SSIMULACRA2 up to 100, SSIM from 0 to 1, "
                    + "CIEDE2000 above 0, or a whole number of bytes.", "Check the settings");
    }
    if (state.file.size > maxUploadBytes) {
      return refuse(`This file is ${human(state.file.size)}; the server accepts up to ${maxUploadMb} MB `
                    + "(palettepress serve --max-upload-mb).", "File too large");
    }
    if (state.controller) state.controller.abort();
    const controller = new AbortController();
    state.controller = controller;
    const seq = ++state.seq;
    setStatus("busy", "Compressing…");

    const form = new FormData();
    form.append("file", state.file, state.file.name || "pasted.png");
    form.append("colors", String(colors));
    form.append("space", el.space.value);
    form.append("dither", el.dither.value);
    form.append("dither_method", el.ditherMethod.value);
    form.append("format", el.format.value);
    if (target.name) {
      form.append("target", target.name);
      form.append("target_value", target.value);
    }
    try {
      const response = await fetch("/api/compress", { method: "POST", body: form, signal: controller.signal });
      let data;
      try {
        data = await response.json();
      } catch {
        data = { error: `the server answered ${response.status} ${response.statusText}` };
      }
      if (seq !== state.seq) return;
      if (!response.ok) {
        showError(data.error || `the server answered ${response.status}`);
        setStatus("error", "Failed");
        return;
      }
      clearError();
      render(data, target);
      setStatus("done", `Done in ${data.seconds.toFixed(2)} s`);
    } catch (err) {
      if (err.name === "AbortError" || seq !== state.seq) return;
      showError("Cannot reach the palettepress server. Is `palettepress serve` still running?");
      setStatus("error", "Offline");
    } finally {
      if (state.controller === controller) state.controller = null;
    }
  }

  // -- result -------------------------------------------------------------------

  function setText(node, text, value) {
    node.textContent = text;
    if (value !== undefined) node.dataset.value = String(value);
  }

  function render(data, target) {
    const url = `data:${data.mime_type};base64,${data.data_base64}`;
    el.resultImage.src = el.splitResult.src = url;
    const ratio = `${data.width} / ${data.height}`;
    document.querySelectorAll(".stage").forEach((s) => s.style.setProperty("--ar", ratio));

    const bytes = Uint8Array.from(atob(data.data_base64), (c) => c.charCodeAt(0));
    if (state.downloadUrl) URL.revokeObjectURL(state.downloadUrl);
    state.downloadUrl = URL.createObjectURL(new Blob([bytes], { type: data.mime_type }));
    el.download.href = state.downloadUrl;
    el.download.download = data.download_name;
    el.download.setAttribute("aria-disabled", "false");
    el.downloadText.textContent = `Download ${FORMAT_NAMES[data.format]} (${human(data.output_bytes)})`;

    setText($("m-input"), data.input_bytes == null ? "–" : `${int(data.input_bytes)} B`, data.input_bytes ?? "");
    setText($("m-input-sub"), data.input_bytes == null ? "" : `${human(data.input_bytes)} · ${data.width}×${data.height}`);
    setText($("m-output"), `${int(data.output_bytes)} B`, data.output_bytes);
    setText($("m-output-sub"), `${human(data.output_bytes)} ${FORMAT_LABELS[data.format]}`);
    el.formatHelp.textContent = data.warnings.length ? data.warnings.join(" ") : FORMAT_HELP;
    if (data.ratio == null) {
      setText($("m-ratio"), "–", "");
      setText($("m-ratio-sub"), "");
    } else {
      setText($("m-ratio"), `${data.ratio.toFixed(2)}×`, data.ratio);
      const saved = 100 * (1 - 1 / data.ratio);
      setText($("m-ratio-sub"), saved >= 0 ? `${saved.toFixed(1)}% smaller` : `${(-saved).toFixed(1)}% larger`);
    }
    setText($("m-bpp"), data.bpp.toFixed(3), data.bpp);
    setText($("m-bpp-sub"), `of ${Math.round(data.bpp * data.raw_ratio)} uncompressed`);
    setText($("m-ssimulacra2"), data.ssimulacra2 == null ? "n/a" : data.ssimulacra2.toFixed(2), data.ssimulacra2 ?? "");
    const dithered = DITHER_NAMES[data.dither_used] || data.dither_used;
    setText($("m-ssimulacra2-sub"), data.animated
      ? `mean of the frames · 10th percentile ${data.ssimulacra2_p10 == null ? "n/a" : data.ssimulacra2_p10.toFixed(2)} · ${dithered}`
      : `100 = identical · ${dithered}`);
    // Animations are measured by SSIMULACRA2 only: the per-pixel figures are n/a.
    const psnr = data.animated ? "n/a" : data.psnr == null ? "∞ dB" : `${data.psnr.toFixed(2)} dB`;
    setText($("m-psnr"), psnr, data.psnr ?? (data.animated ? "" : "inf"));
    setText($("m-ssim"), data.ssim == null ? "n/a" : data.ssim.toFixed(4), data.ssim ?? "");
    setText($("m-delta-e"), data.delta_e == null ? "n/a" : data.delta_e.toFixed(3), data.delta_e ?? "");
    const colorsNode = $("m-colors");
    setText(colorsNode, String(data.colors), data.colors);
    colorsNode.dataset.k = String(data.k);
    let note = `of ${data.k} requested`;
    if (data.animated) note = `most in one frame, of ${data.k} per frame`;
    else if (data.lossless) note = "lossless: no more colours";
    else if (data.target) note = `k = ${data.k} for ${TARGETS[data.target.name].label(data.target.value)}`;
    setText($("m-colors-sub"), note);

    const frames = data.animated ? ` · ${plural(data.frames, "frame")}` : "";
    el.chipRight.textContent = `${plural(data.colors, "colour")} · ${human(data.output_bytes)}${frames}`;
    el.resultCaption.textContent = `${int(data.output_bytes)} bytes · ${plural(data.colors, "colour")}${frames}`;
    showAnimation(data);
    el.originalCaption.textContent = data.input_bytes == null ? "" : `${int(data.input_bytes)} bytes`;

    const large = data.palette.length <= 32;
    el.palette.classList.toggle("large", large);
    el.palette.replaceChildren(...data.palette.map((hex) => {
      const li = document.createElement("li");
      li.className = "swatch";
      li.style.backgroundColor = hex;
      li.title = hex;
      const label = document.createElement("span");
      label.className = "swatch-label";
      label.textContent = hex;
      li.append(label);
      return li;
    }));
    el.paletteCount.textContent = `(${plural(data.palette.length, "colour")})`;
    el.paletteSection.hidden = Boolean(data.animated);  // a palette per frame: none to show
  }

  function showAnimation(data) {
    const note = el.animationNote;
    if (!data.animated) {
      note.hidden = true;
      delete note.dataset.frames;
      return;
    }
    const loop = data.loop === 0 ? "looping" : data.loop == null ? "played once" : `loop count ${data.loop}`;
    const flicker = data.flicker == null ? "" : ` Flicker ${(100 * data.flicker).toFixed(2)}%: the share of the original's still pixels that change on screen.`;
    note.textContent = `The result is an ${ANIMATION_NAMES[data.format]} of ${plural(data.frames, "frame")} `
      + `(${data.duration.toFixed(2)} s, ${loop}): the original and the result play side by side below. `
      + `SSIMULACRA2 is the mean over the frames${data.measure_every > 1 ? ` (1 frame in ${data.measure_every} measured)` : ""}.${flicker}`;
    note.dataset.frames = String(data.frames);
    note.hidden = false;
  }

  function disableDownload() {
    if (state.downloadUrl) URL.revokeObjectURL(state.downloadUrl);
    state.downloadUrl = null;
    el.download.removeAttribute("href");
    el.download.setAttribute("aria-disabled", "true");
    el.downloadText.textContent = `Download ${FORMAT_NAMES[el.format.value]}`;
  }

  function setSplit(value) {
    el.splitStage.style.setProperty("--split", `${value}%`);
    el.split.setAttribute("aria-valuetext", `${value}% original`);
  }

  // -- events -------------------------------------------------------------------

  el.file.addEventListener("change", () => setFile(el.file.files[0]));
  el.colors.addEventListener("input", () => {
    const n = readColors();
    if (n !== null) {
      syncColorsRange(n);
      clearError();
    }
    schedule();
  });
  el.colorsRange.addEventListener("input", () => {
    const n = Math.round(2 ** Number(el.colorsRange.value));
    el.colors.value = String(n);
    el.colors.setAttribute("aria-invalid", "false");
    el.colorsRange.setAttribute("aria-valuetext", plural(n, "colour"));
    schedule();
  });
  el.space.addEventListener("change", () => schedule(0));
  el.dither.addEventListener("input", () => {
    const v = Number(el.dither.value);
    const text = v === 0 ? "off" : v.toFixed(2);
    el.ditherOut.textContent = text;
    el.dither.setAttribute("aria-valuetext", text);
    schedule();
  });
  el.ditherMethod.addEventListener("change", () => schedule(0));
  el.format.addEventListener("change", () => schedule(0));
  el.target.addEventListener("change", onTargetChange);
  el.targetValue.addEventListener("input", schedule.bind(null, DEBOUNCE_MS));
  el.split.addEventListener("input", () => setSplit(el.split.value));
  $("controls").addEventListener("submit", (event) => {
    event.preventDefault();
    schedule(0);
  });
  el.download.addEventListener("click", (event) => {
    if (el.download.getAttribute("aria-disabled") === "true") event.preventDefault();
  });
  el.sample.addEventListener("click", async () => {
    try {
      const response = await fetch("/api/sample");
      if (!response.ok) throw new Error(String(response.status));
      const blob = await response.blob();
      setFile(new File([blob], "sample.png", { type: "image/png" }));
    } catch {
      showError("Cannot load the sample image from the server.");
    }
  });

  // Dropping anywhere on the page picks the file, not just on the drop zone.
  let dragDepth = 0;
  const hasFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");
  window.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    dragDepth += 1;
    document.body.classList.add("dragging");
  });
  window.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) document.body.classList.remove("dragging");
  });
  window.addEventListener("dragover", (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  window.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    document.body.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (!file) return;
    try {
      el.file.files = event.dataTransfer.files;
    } catch {
      // Older browsers cannot assign a FileList; the upload works without it.
    }
    setFile(file);
  });
  window.addEventListener("paste", (event) => {
    const file = Array.from(event.clipboardData?.files || []).find((f) => f.type.startsWith("image/"));
    if (file) setFile(file);
  });

  syncColorsRange(readColors() ?? 64);
  setSplit(el.split.value);
})();
