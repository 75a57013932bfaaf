// Template: parse once, render many times. Each render gets a fresh interpreter and scope, so one Template
// may render from several threads at once.
#include "chat/jinja_template.h"

#include "chat/jinja_builtins.h"
#include "chat/jinja_interpreter.h"
#include "chat/jinja_parser.h"
#include "core/error.h"

namespace whale::jinja {

Template::Template(std::string_view source, std::string name)
    : name_(std::move(name)), source_(std::make_shared<const std::string>(normalize_source(source))) {
  body_ = std::make_shared<const Body>(parse(*source_, name_));
}

std::string Template::render(const nlohmann::ordered_json& variables, const RenderLimits& limits) const {
  if (!variables.is_object()) fail("{}: template variables must be a JSON object", name_);
  auto globals = std::make_shared<Scope>();
  install_globals(*globals);
  auto scope = std::make_shared<Scope>(globals);
  for (const auto& [key, value] : variables.items()) {
    try {
      scope->set(key, from_json(value));
    } catch (const EvalError& e) {
      fail("{}: variable {}: {}", name_, key, e.what());
    }
  }
  Interpreter interpreter(*source_, name_, limits);
  return interpreter.render(*body_, scope);
}

}  // namespace whale::jinja
