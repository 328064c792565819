// The header's menu button: on a narrow screen static/site.css folds the navigation and the
// account links behind it (class "has-menu-button"), and a press opens or closes them. A file of
// its own, not an inline script: the site's Content-Security-Policy runs scripts from the site only.
(() => {
  const button = document.querySelector(".site-menu-button");
  const header = button && button.closest(".site-header");
  if (!header) return;
  header.classList.add("has-menu-button");
  button.hidden = false;
  button.addEventListener("click", () => {
    const open = header.classList.toggle("menu-open");
    button.setAttribute("aria-expanded", String(open));
  });
})();
