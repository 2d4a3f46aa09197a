// Posts the form of a page that only forwards a message (SAML POST binding); the button
// stays for browsers without JavaScript. The prototype's submit is called because the
// form's button has the stable id "submit", which shadows form.submit.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("autopost-form");
  if (form) { HTMLFormElement.prototype.submit.call(form); }
});
