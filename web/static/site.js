// Progressive enhancement only: every page works without this file.
// After HTMX replaces the calendar, move focus to its caption so screen readers hear the month.
document.addEventListener("htmx:afterSettle", function () {
  var caption = document.getElementById("calendar-caption");
  if (caption && document.activeElement === document.body) { caption.focus(); }
});
