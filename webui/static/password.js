// Marks the password rules the browser can check as the person types (length, classes); the
// others (common, personal, history, age) are checked on the server when the form is sent.
(function () {
  var form = document.getElementById("password-form");
  if (!form) { return; }
  var input = form.querySelector("input[name=new]");
  var min = parseInt(form.dataset.min, 10), max = parseInt(form.dataset.max, 10);
  var classes = parseInt(form.dataset.classes, 10);
  function mark(rule, ok) {
    var item = document.querySelector('#rules [data-rule="' + rule + '"]');
    if (!item) { return; }
    item.classList.toggle("ok", ok);
    item.classList.toggle("bad", !ok && input.value.length > 0);
  }
  function check() {
    var value = input.value;
    mark("length", value.length >= min && value.length <= max);
    var n = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter(function (re) { return re.test(value); }).length;
    mark("classes", n >= classes);
  }
  input.addEventListener("input", check);
  check();
}());
