// Progressive enhancement for Hexavatar's forms; every form works without it.
// - <input type="file" data-preview="ID">: shows the chosen image in <img id="ID"> before upload.
// - <form data-progress="ID">: on submit, shows the progress note #ID and disables the button.
(function () {
  "use strict";
  document.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
    var img = document.getElementById(input.dataset.preview);
    if (!img) return;
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (img.src && img.src.indexOf("blob:") === 0) URL.revokeObjectURL(img.src);
      if (!file || file.type.indexOf("image/") !== 0) { img.hidden = true; return; }
      img.src = URL.createObjectURL(file);
      img.hidden = false;
    });
  });
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    var note = document.getElementById(form.dataset.progress);
    form.addEventListener("submit", function () {
      if (note) note.hidden = false;
      form.setAttribute("aria-busy", "true");
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        // after this event, so the form still submits
        setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  });
})();
