// Drag a post onto another day (same time of day) or onto a free slot (its time): this fills the post's
// own "Move" form and submits it, so the server applies exactly the move the form would.
(function () {
  "use strict";
  var dragged = null;

  function dropTarget(event) {
    return event.target.closest(".cal-slot, .cal-day");
  }

  document.addEventListener("dragstart", function (event) {
    var post = event.target.closest && event.target.closest(".cal-post[draggable=true]");
    if (!post) return;
    dragged = post;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", post.dataset.postId);
  });

  document.addEventListener("dragend", function () {
    dragged = null;
    document.querySelectorAll(".drop-here").forEach(function (element) {
      element.classList.remove("drop-here");
    });
  });

  document.addEventListener("dragover", function (event) {
    if (!dragged || !dropTarget(event)) return;
    event.preventDefault(); // the element accepts the drop
    event.dataTransfer.dropEffect = "move";
  });

  document.addEventListener("dragenter", function (event) {
    var target = dragged && dropTarget(event);
    if (target) target.classList.add("drop-here");
  });

  document.addEventListener("dragleave", function (event) {
    var target = dropTarget(event);
    if (target && !target.contains(event.relatedTarget)) target.classList.remove("drop-here");
  });

  document.addEventListener("drop", function (event) {
    var target = dragged && dropTarget(event);
    if (!target) return;
    event.preventDefault();
    var form = document.getElementById(dragged.dataset.moveForm);
    var at = target.classList.contains("cal-slot")
      ? target.dataset.at
      : target.dataset.date + dragged.dataset.at.slice(10); // the day, at the post's time of day
    if (!form || at === dragged.dataset.at) return;
    form.elements.at.value = at;
    form.requestSubmit();
  });
})();
