// Keyboard shortcuts of the review page: a accept, r reject, d needs discussion, / search
// another parent, n next, q queue. Typing in a text field is never taken as a shortcut.
(function () {
  function click(id) { var el = document.getElementById(id); if (el) { el.click(); return true; } return false; }
  // a move carries the comment typed above
  document.querySelectorAll('form.move-form').forEach(function (form) {
    form.addEventListener('submit', function () {
      var c = document.getElementById('comment');
      var field = form.querySelector('.move-comment');
      if (c && field) { field.value = c.value; }
    });
  });
  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var tag = (e.target && e.target.tagName) || '';
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') {
      if (e.key === 'Escape') { e.target.blur(); }
      return;
    }
    var done = false;
    if (e.key === 'a') { done = click('accept'); }
    else if (e.key === 'r') { done = click('reject'); }
    else if (e.key === 'd') { done = click('discuss'); }
    else if (e.key === 'n') { done = click('skip') || click('start'); }
    else if (e.key === 'q') { window.location.href = '/'; done = true; }
    else if (e.key === '/') { var q = document.getElementById('q'); if (q) { q.focus(); done = true; } }
    if (done) { e.preventDefault(); }
  });
})();
