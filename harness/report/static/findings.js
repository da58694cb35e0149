(function () {
"use strict";
// A link to a finding (#finding-3, from the per-framework view) or to a collapsed section (#env-sec) opens it.
// Such a hash has no "=", so the row table's state (report.js) leaves it alone.
function openTarget() {
  const id = decodeURIComponent(location.hash.slice(1));
  if (!id || id.includes("=")) return;
  const t = document.getElementById(id);
  const d = t && (t.tagName === "DETAILS" ? t : t.querySelector(":scope > details"));
  if (!d) return;
  d.open = true;
  const top = t.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight - 40) t.scrollIntoView({ block: "start" });  // only when out of sight
}
window.addEventListener("hashchange", openTarget);
openTarget();
})();
