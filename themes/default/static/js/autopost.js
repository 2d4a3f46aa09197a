// Posts the form of a page that only forwards a message (SAML POST binding): the button
// stays for browsers without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("autopost-form");
  if (form) { form.submit(); }
});
