// Progressive enhancement only: every page works without this file.
// 1. Drag-and-drop onto the upload zone, and the chosen file's name and size.
// 2. CSV/TSV column mapping: read the header in the browser and offer its columns to pick from.
// 3. Copy buttons, and a confirmation before destructive forms (data-confirm).
(function () {
  "use strict";

  function formatSize(bytes) {
    if (bytes < 1024) return bytes + " bytes";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  // A small CSV line splitter (quotes, doubled quotes); enough for a header and a few preview rows.
  function splitRow(line, sep) {
    var out = [], cur = "", quoted = false;
    for (var i = 0; i < line.length; i++) {
      var ch = line[i];
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; }
        else if (ch === '"') quoted = false;
        else cur += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === sep) { out.push(cur); cur = ""; }
      else cur += ch;
    }
    out.push(cur);
    return out.map(function (c) { return c.trim(); });
  }

  function guess(columns, preferred) {
    var lower = columns.map(function (c) { return c.toLowerCase(); });
    for (var i = 0; i < preferred.length; i++) {
      var at = lower.indexOf(preferred[i]);
      if (at >= 0) return columns[at];
    }
    return null;
  }

  // Swap a free-text column input for a <select> of the file's columns (same name and id, so the form posts the same).
  function toSelect(input, columns, chosen, allowEmpty) {
    var select = document.createElement("select");
    select.name = input.name;
    select.id = input.id;
    if (input.getAttribute("aria-describedby")) select.setAttribute("aria-describedby", input.getAttribute("aria-describedby"));
    if (allowEmpty) select.add(new Option("— the usual name —", ""));
    columns.forEach(function (c) { select.add(new Option(c, c)); });
    if (chosen) select.value = chosen;
    select.dataset.columnSelect = "1";
    select.dataset.original = input.outerHTML;
    input.replaceWith(select);
    return select;
  }

  function restoreInput(form, name) {
    var el = form.querySelector('[name="' + name + '"]');
    if (el && el.dataset.columnSelect) {
      var holder = document.createElement("div");
      holder.innerHTML = el.dataset.original;
      el.replaceWith(holder.firstChild);
    }
  }

  function renderPreview(box, rows) {
    box.textContent = "";
    var table = document.createElement("table");
    rows.forEach(function (cells, r) {
      var tr = table.insertRow();
      cells.forEach(function (cell) {
        var td = document.createElement(r === 0 ? "th" : "td");
        td.textContent = cell.length > 60 ? cell.slice(0, 57) + "…" : cell;
        tr.appendChild(td);
      });
    });
    var caption = table.createCaption();
    caption.className = "visually-hidden";
    caption.textContent = "The first rows of your file";
    box.appendChild(table);
    box.hidden = false;
  }

  function mapColumns(form, file) {
    var hint = form.querySelector("[data-columns-hint]");
    var preview = form.querySelector("[data-columns-preview]");
    restoreInput(form, "text_column");
    restoreInput(form, "label_column");
    preview.hidden = true;
    var isTsv = /\.tsv$/i.test(file.name);
    if (!/\.(csv|tsv|txt)$/i.test(file.name) && file.type !== "text/csv") {
      hint.textContent = "This is not a CSV file, so there are no columns to pick: the usual names are used.";
      return;
    }
    var reader = new FileReader();
    reader.onload = function () {
      var text = String(reader.result).replace(/^\uFEFF/, "");
      var lines = text.split(/\r?\n/).filter(function (l) { return l.trim() !== ""; }).slice(0, 4);
      if (!lines.length) { hint.textContent = "The file looks empty."; return; }
      var sep = isTsv ? "\t" : (lines[0].split(";").length > lines[0].split(",").length ? ";" : ",");
      var rows = lines.map(function (l) { return splitRow(l, sep); });
      var columns = rows[0].filter(function (c) { return c !== ""; });
      if (!columns.length) return;
      var textCol = guess(columns, ["text", "sentence", "message", "utterance", "content", "body"]) || columns[0];
      var labelCol = guess(columns, ["label", "labels", "category", "intent", "class", "tag", "topic"]) ||
        columns.filter(function (c) { return c !== textCol; })[0] || null;
      toSelect(form.querySelector('[name="text_column"]'), columns, textCol, false);
      toSelect(form.querySelector('[name="label_column"]'), columns, labelCol, true);
      hint.textContent = "Your file has " + columns.length + " column" + (columns.length === 1 ? "" : "s") +
        ". Check which holds the text and which the label:";
      renderPreview(preview, rows);
    };
    // The header and a few rows are at the start: read only the first 64 KB, whatever the file's size.
    reader.readAsText(file.slice(0, 65536));
  }

  function initUpload(form) {
    var zone = form.querySelector("[data-dropzone]");
    var input = zone && zone.querySelector('input[type="file"]');
    if (!input) return;
    var label = zone.querySelector("[data-dropzone-file]");
    function chosen() {
      var file = input.files && input.files[0];
      label.textContent = file ? file.name + " · " + formatSize(file.size) : "";
      if (file) mapColumns(form, file);
      var name = form.querySelector('[name="name"]');
      if (file && name && !name.value) {
        name.value = file.name.replace(/\.[^.]+$/, "").toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
      }
    }
    input.addEventListener("change", chosen);
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("is-dragging"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("is-dragging"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        chosen();
      }
    });
  }

  function initCopy(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.querySelector(button.dataset.copy);
        if (!source) return;
        var text = source.textContent;
        var done = function () {
          var before = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = before; }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done);
        } else {
          // http://*.localhost pages may not count as secure: fall back to selecting and copying.
          var range = document.createRange();
          range.selectNodeContents(source);
          var sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
          try { document.execCommand("copy"); done(); } catch (err) { /* the text stays selected to copy by hand */ }
        }
      });
    });
  }

  document.addEventListener("submit", function (e) {
    var message = e.target.dataset && e.target.dataset.confirm;
    if (message && !window.confirm(message)) e.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-upload-form]").forEach(initUpload);
    initCopy(document);
  });
})();
