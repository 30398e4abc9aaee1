// Checks a form's fields as they are typed, with the same rules the server applies on submit
// (GB 11643 check digit, names with U+00B7, mobile and office phone shapes, logins, e-mail).
(function () {
  var form = document.getElementById("form-fill");
  if (!form) { return; }
  var zh = document.documentElement.lang.indexOf("zh") === 0;
  var W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], C = "10X98765432";
  function idOk(v) {
    if (!/^[1-9][0-9]{16}[0-9X]$/.test(v)) { return zh ? "应为 18 位：17 位数字，最后一位为数字或 X" : "18 characters: 17 digits, then a digit or X"; }
    var y = +v.substr(6, 4), m = +v.substr(10, 2), d = +v.substr(12, 2), date = new Date(y, m - 1, d);
    if (date.getFullYear() !== y || date.getMonth() !== m - 1 || date.getDate() !== d) { return zh ? "出生日期不存在" : "no such birth date"; }
    var s = 0;
    for (var i = 0; i < 17; i++) { s += (+v[i]) * W[i]; }
    return C[s % 11] === v[17] ? "" : (zh ? "校验码不对（最后一位应为 " + C[s % 11] + "）" : "wrong check digit (should be " + C[s % 11] + ")");
  }
  var checks = {
    id: idOk,
    name: function (v) {
      if (/[•‧・･]/.test(v)) { return zh ? "间隔号应为“·”（U+00B7）" : "the middle dot must be U+00B7"; }
      return /^[\u3400-\u9fff]+(·[\u3400-\u9fff]+)*$/.test(v) || /^[A-Za-z]+( [A-Za-z]+)*$/.test(v) ? "" : (zh ? "只能是汉字（可用“·”分隔）或拉丁字母" : "Chinese characters (joined by ·) or Latin letters");
    },
    surname: function (v) {
      var name = (form.querySelector("[name=name]") || {}).value || "";
      return !v || name.indexOf(v) === 0 ? "" : (zh ? "应为姓名的开头" : "must begin the name");
    },
    mobile: function (v) { return !v || /^1[3-9][0-9]{9}$/.test(v) ? "" : (zh ? "手机号码应为 11 位，1 开头" : "11 digits starting with 1"); },
    phone: function (v) { return !v || /^0[0-9]{2,3}-?[0-9]{7,8}$/.test(v) ? "" : (zh ? "应含区号，如 0471-2850001" : "with area code, e.g. 0471-2850001"); },
    email: function (v) { return !v || /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v) ? "" : (zh ? "电子邮箱格式不对" : "not an e-mail address"); },
    login: function (v) { return !v || /^[A-Za-z0-9._-]{1,64}$/.test(v) ? "" : (zh ? "登录账号只含字母、数字和 . _ -" : "letters, digits and . _ - only"); },
    service: function (v) { return /^[a-z][a-z0-9-]{1,63}$/.test(v) ? "" : (zh ? "小写字母开头，仅含 a-z 0-9 -" : "a-z, 0-9 and -, starting with a letter"); }
  };
  form.querySelectorAll("[data-check]").forEach(function (input) {
    var message = document.getElementById("m-" + input.name);
    var hint = message ? message.textContent : "";
    function run() {
      var problem = input.value ? checks[input.dataset.check](input.value) : "";
      input.setAttribute("aria-invalid", problem ? "true" : "false");
      input.closest(".field").classList.toggle("invalid", !!problem);
      if (message) { message.textContent = problem || hint; }
    }
    input.addEventListener("input", run);
    input.addEventListener("blur", run);
  });
}());
