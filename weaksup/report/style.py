"""The report's inline stylesheet and its one script (click a table header to sort by it)."""

CSS = """
:root { --ink:#1f2430; --muted:#6b7280; --line:#e6e8ee; --bg:#f6f7fb; --card:#fff; --accent:#3b6fd8; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); line-height:1.45;
  font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.wrap { max-width:1400px; margin:0 auto; padding:0 24px; }
header { background:linear-gradient(135deg,#1f2a48,#31467a); color:#fff; padding:28px 0 0; }
.kicker { text-transform:uppercase; letter-spacing:.08em; font-size:11px; opacity:.75; }
h1 { margin:4px 0 2px; font-size:28px; font-weight:650; }
h1 .run { font-weight:400; opacity:.7; font-size:20px; margin-left:6px; }
.sub { opacity:.8; font-size:13px; }
.cards { display:flex; flex-wrap:wrap; gap:12px; margin:20px 0 18px; }
.card { background:rgba(255,255,255,.1); border:1px solid rgba(255,255,255,.16); border-radius:10px;
  padding:10px 16px; min-width:120px; }
.card .value { font-size:22px; font-weight:650; font-variant-numeric:tabular-nums; }
.card .label { font-size:11px; opacity:.8; text-transform:uppercase; letter-spacing:.05em; }
nav { display:flex; gap:4px; }
nav a { color:#fff; text-decoration:none; padding:9px 14px; border-radius:8px 8px 0 0; opacity:.85; font-weight:500; }
nav a:hover { background:rgba(255,255,255,.12); opacity:1; }
section { margin:30px 0; }
h2 { font-size:19px; margin:0 0 4px; font-weight:650; }
h3 { font-size:14px; margin:0; font-weight:600; }
.intro, figcaption p { color:var(--muted); margin:2px 0 12px; font-size:13px; }
.muted { color:var(--muted); }
.table-wrap { overflow:auto; max-height:560px; background:var(--card); border:1px solid var(--line);
  border-radius:10px; box-shadow:0 1px 2px rgba(20,30,60,.04); }
table.data { border-collapse:collapse; width:100%; font-size:12.5px; }
table.data th { position:sticky; top:0; background:#fafbfd; text-align:left; font-weight:600; color:#414857;
  border-bottom:1px solid var(--line); padding:7px 7px; vertical-align:bottom; font-size:11.5px; }
table.sortable th { cursor:pointer; user-select:none; }
table.sortable th:hover { color:var(--accent); }
th[aria-sort=ascending]::after { content:" ▲"; font-size:9px; color:var(--accent); }
th[aria-sort=descending]::after { content:" ▼"; font-size:9px; color:var(--accent); }
table.data td { padding:5px 7px; border-bottom:1px solid #f0f1f5; vertical-align:top; }
table.data tr:hover td { background:#f7f9ff; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.text { max-width:460px; }
td.err { max-width:220px; overflow-wrap:anywhere; font-size:11.5px; }
td.votes { min-width:220px; }
.chip { display:inline-block; margin:1px 3px 1px 0; padding:1px 7px; border-radius:999px; background:#eef2fb;
  font-size:11.5px; white-space:nowrap; }
.chip b { font-weight:500; color:#4a5568; margin-right:5px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(520px,1fr)); gap:18px; }
figure { margin:0; background:var(--card); border:1px solid var(--line); border-radius:10px; padding:14px 16px;
  box-shadow:0 1px 2px rgba(20,30,60,.04); }
figure svg { width:100%; height:auto; display:block; }
details.bucket { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px 14px;
  margin:0 0 12px; }
details.bucket summary { cursor:pointer; font-weight:600; }
details.bucket .table-wrap { border:none; box-shadow:none; max-height:420px; }
.count { background:#eef2fb; color:#3b4a6b; border-radius:999px; padding:0 8px; font-size:12px; margin-left:6px; }
.two { display:grid; grid-template-columns:1fr 2fr; gap:18px; }
footer { color:var(--muted); font-size:12px; padding:20px 28px 40px; }
"""

SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-sort') || '', y = b.cells[col].getAttribute('data-sort') || '';
        if (x === '' || y === '') { return x === y ? 0 : (x === '' ? 1 : -1); }
        var nx = parseFloat(x), ny = parseFloat(y);
        var r = (!isNaN(nx) && !isNaN(ny) && String(nx) !== 'NaN') ? nx - ny : x.localeCompare(y);
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""
