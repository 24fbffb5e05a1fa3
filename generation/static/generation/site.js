// Behaviour every page shares, kept in a file because the Content-Security-Policy allows no inline handlers.
// A <select data-autosubmit> (the language chooser) sends its form as soon as a choice is made.
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
    target.form.submit();
  }
});
