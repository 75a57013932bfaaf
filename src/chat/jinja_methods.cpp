// Attribute and item lookup, slicing, iteration, the methods of str/dict/list that templates call, and the
// global functions. Lookups follow Jinja2: a missing key, attribute or index is Undefined, not an error.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <functional>

#include "chat/jinja_builtins.h"
#include "chat/jinja_interpreter.h"
#include "chat/jinja_string_methods.h"
#include "chat/jinja_text.h"

namespace whale::jinja {

const Value* ArgReader::get(size_t index, std::string_view name) {
  const Value* found = nullptr;
  if (index < args_.positional.size()) found = &args_.positional[index];
  for (const auto& [key, value] : args_.keyword) {
    if (key != name) continue;
    if (found != nullptr) throw EvalError(fmt::format("{}() got multiple values for argument '{}'", function_, name));
    found = &value;
    used_keywords_.push_back(name);
  }
  return found;
}

Value ArgReader::get_or(size_t index, std::string_view name, Value fallback) {
  const Value* v = get(index, name);
  return v != nullptr ? *v : std::move(fallback);
}

void ArgReader::finish(size_t max_positional) const {
  if (args_.positional.size() > max_positional) {
    throw EvalError(fmt::format("{}() takes at most {} positional arguments ({} given)", function_, max_positional,
                                args_.positional.size()));
  }
  for (const auto& [key, value] : args_.keyword) {
    if (std::find(used_keywords_.begin(), used_keywords_.end(), key) == used_keywords_.end()) {
      throw EvalError(fmt::format("{}() got an unexpected keyword argument '{}'", function_, key));
    }
  }
}

namespace {

// A method looked up but not yet called: `s.upper` as a value.
class BoundMethod : public Callable {
 public:
  BoundMethod(Value object, std::string name) : object_(std::move(object)), name_(std::move(name)) {}
  std::string name() const override { return type_name(object_) + "." + name_; }
  Value call(CallArgs& args, Interpreter& interp) override { return call_method(interp, object_, name_, args); }

 private:
  Value object_;
  std::string name_;
};

class BuiltinFunction : public Callable {
 public:
  using Fn = std::function<Value(CallArgs&, Interpreter&)>;
  BuiltinFunction(std::string name, Fn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  std::string name() const override { return name_; }
  Value call(CallArgs& args, Interpreter& interp) override { return fn_(args, interp); }

 private:
  std::string name_;
  Fn fn_;
};

constexpr std::string_view kDictMethods[] = {"get", "items", "keys", "values"};
// Methods that would modify a value; transformers renders in an immutable sandbox, where calling them fails.
constexpr std::string_view kMutatingMethods[] = {"append", "extend",  "insert", "pop",        "remove", "clear",
                                                 "sort",   "reverse", "update", "setdefault", "popitem"};
constexpr std::string_view kListMethods[] = {"index", "count"};

template <size_t N>
bool in_list(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

Value bound(const Value& object, const std::string& name) {
  return Value(CallablePtr(std::make_shared<BoundMethod>(object, name)));
}

Value missing_attribute(const Value& object, std::string_view name) {
  return Value(Undefined{fmt::format("'{} object' has no attribute '{}'", type_name(object), name)});
}

int64_t sequence_index(const Value& key, size_t size, bool& ok) {
  int64_t i = key.integer();
  if (i < 0) i += static_cast<int64_t>(size);
  ok = i >= 0 && i < static_cast<int64_t>(size);
  return i;
}

Value dict_method(const DictData& dict, std::string_view name, CallArgs& args) {
  ArgReader reader(name, args);
  if (name == "get") {
    const Value* key = reader.get(0, "key");
    Value fallback = reader.get_or(1, "default", Value(nullptr));
    reader.finish(2);
    if (key == nullptr) throw EvalError("get() expected at least 1 argument");
    const Value* found = key->is_string() ? dict.find(key->as_string()) : nullptr;
    return found != nullptr ? *found : fallback;
  }
  reader.finish(0);
  std::vector<Value> out;
  for (const auto& [key, value] : dict.entries) {
    if (name == "items")
      out.push_back(make_list({Value(key), value}, true));
    else if (name == "keys")
      out.emplace_back(key);
    else
      out.push_back(value);
  }
  return make_list(std::move(out));
}

Value list_method(const ListData& list, std::string_view name, CallArgs& args) {
  ArgReader reader(name, args);
  const Value* item = reader.get(0, "value");
  reader.finish(1);
  if (item == nullptr) throw EvalError(fmt::format("{}() takes exactly one argument", name));
  int64_t count = 0;
  for (size_t i = 0; i < list.items.size(); ++i) {
    if (!equals(list.items[i], *item)) continue;
    if (name == "index") return Value(static_cast<int64_t>(i));
    ++count;
  }
  if (name == "index") throw EvalError(fmt::format("{} is not in list", to_repr(*item)));
  return Value(count);
}

}  // namespace

bool has_method(const Value& object, std::string_view name) {
  switch (object.kind()) {
    case Kind::String: return is_string_method(name);
    case Kind::Dict: return in_list(kDictMethods, name) || in_list(kMutatingMethods, name);
    case Kind::List: return in_list(kListMethods, name) || in_list(kMutatingMethods, name);
    default: return false;
  }
}

Value call_method(Interpreter& interp, const Value& object, std::string_view name, CallArgs& args) {
  if (in_list(kMutatingMethods, name)) {
    throw EvalError(fmt::format("access to attribute '{}' of '{}' object is unsafe (templates cannot modify values)",
                                name, type_name(object)));
  }
  switch (object.kind()) {
    case Kind::String: return call_string_method(interp, object.as_string(), name, args);
    case Kind::Dict: return dict_method(*object.as_dict(), name, args);
    case Kind::List: return list_method(*object.as_list(), name, args);
    default: throw EvalError(fmt::format("'{}' object has no method '{}'", type_name(object), name));
  }
}

Value get_attr(const Value& object, const std::string& name) {
  if (has_method(object, name)) return bound(object, name);
  if (object.is_dict()) {
    const Value* found = object.as_dict()->find(name);
    return found != nullptr ? *found : missing_attribute(object, name);
  }
  if (object.is_namespace()) {
    const Value* found = object.as_namespace().data->find(name);
    return found != nullptr ? *found : missing_attribute(object, name);
  }
  return missing_attribute(object, name);
}

Value get_item(const Value& object, const Value& key) {
  bool ok = false;
  switch (object.kind()) {
    case Kind::Dict:
      if (key.is_string()) {
        const Value* found = object.as_dict()->find(key.as_string());
        if (found != nullptr) return *found;
        if (has_method(object, key.as_string())) return bound(object, key.as_string());
        return missing_attribute(object, key.as_string());
      }
      break;
    case Kind::Namespace:
      if (key.is_string()) return get_attr(object, key.as_string());
      break;
    case Kind::List: {
      const auto& items = object.as_list()->items;
      if (key.is_int() || key.is_bool()) {
        int64_t i = sequence_index(key, items.size(), ok);
        if (ok) return items[static_cast<size_t>(i)];
        return Value(Undefined{fmt::format("{} object has no element {}", type_name(object), key.integer())});
      }
      if (key.is_string()) return get_attr(object, key.as_string());
      break;
    }
    case Kind::String: {
      if (key.is_int() || key.is_bool()) {
        std::vector<size_t> offsets = code_point_offsets(object.as_string());
        int64_t i = sequence_index(key, offsets.size() - 1, ok);
        if (ok) {
          auto at = static_cast<size_t>(i);
          return Value(object.as_string().substr(offsets[at], offsets[at + 1] - offsets[at]));
        }
        return Value(Undefined{fmt::format("str object has no element {}", key.integer())});
      }
      if (key.is_string()) return get_attr(object, key.as_string());
      break;
    }
    default: break;
  }
  return Value(Undefined{fmt::format("'{} object' has no item {}", type_name(object), to_repr(key))});
}

Value slice_value(const Value& object, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto is_none = [](const Value& v) { return v.is_none() || v.is_undefined(); };
  auto as_index = [](const Value& v, const char* what) {
    if (!v.is_int() && !v.is_bool())
      throw EvalError(fmt::format("slice {} must be an integer or none, not {}", what, type_name(v)));
    return v.integer();
  };
  std::vector<size_t> offsets;
  size_t size = 0;
  if (object.is_list()) {
    size = object.as_list()->items.size();
  } else if (object.is_string()) {
    offsets = code_point_offsets(object.as_string());
    size = offsets.size() - 1;
  } else {
    throw EvalError(fmt::format("'{}' object is not subscriptable with a slice", type_name(object)));
  }
  const auto n = static_cast<int64_t>(size);
  int64_t step = is_none(step_v) ? 1 : as_index(step_v, "step");
  if (step == 0) throw EvalError("slice step cannot be zero");
  auto adjust = [&](const Value& v, int64_t fallback, const char* what) {
    if (is_none(v)) return fallback;
    int64_t i = as_index(v, what);
    if (i < 0) {
      i += n;
      if (i < 0) i = step < 0 ? -1 : 0;
    } else if (i >= n) {
      i = step < 0 ? n - 1 : n;
    }
    return i;
  };
  int64_t start = adjust(start_v, step < 0 ? n - 1 : 0, "start");
  int64_t stop = adjust(stop_v, step < 0 ? -1 : n, "stop");
  std::vector<int64_t> picked;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) picked.push_back(i);
  if (object.is_list()) {
    std::vector<Value> items;
    items.reserve(picked.size());
    for (int64_t i : picked) items.push_back(object.as_list()->items[static_cast<size_t>(i)]);
    return make_list(std::move(items), object.as_list()->is_tuple);
  }
  std::string out;
  for (int64_t i : picked) {
    auto at = static_cast<size_t>(i);
    out.append(object.as_string(), offsets[at], offsets[at + 1] - offsets[at]);
  }
  return Value(std::move(out));
}

std::vector<Value> iterate(const Value& value) {
  switch (value.kind()) {
    case Kind::List: return value.as_list()->items;
    case Kind::Dict: {
      std::vector<Value> keys;
      for (const auto& entry : value.as_dict()->entries) keys.emplace_back(entry.first);
      return keys;
    }
    case Kind::String: {
      std::vector<Value> chars;
      const std::string& s = value.as_string();
      for (size_t pos = 0; pos < s.size();) {
        size_t start = pos;
        decode_utf8(s, pos);
        chars.emplace_back(s.substr(start, pos - start));
      }
      return chars;
    }
    case Kind::Undefined: return {};
    default: throw EvalError(fmt::format("'{}' object is not iterable", type_name(value)));
  }
}

Value get_attribute_path(const Value& value, const Value& path) {
  if (path.is_int()) return get_item(value, path);
  if (!path.is_string())
    throw EvalError(fmt::format("attribute must be a string or an integer, not {}", type_name(path)));
  Value current = value;
  const std::string& p = path.as_string();
  for (size_t start = 0; start <= p.size();) {
    size_t dot = p.find('.', start);
    std::string part = p.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (current.is_undefined()) return current;
    current = digits && part.size() < 18 ? get_item(current, Value(static_cast<int64_t>(std::stoll(part))))
                                         : get_item(current, Value(part));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return current;
}

namespace {

Value range_function(CallArgs& args, Interpreter& interp) {
  if (!args.keyword.empty()) throw EvalError("range() takes no keyword arguments");
  std::vector<int64_t> v;
  for (const Value& a : args.positional) {
    if (!a.is_int() && !a.is_bool()) throw EvalError(fmt::format("range() needs integers, got {}", type_name(a)));
    v.push_back(a.integer());
  }
  if (v.empty() || v.size() > 3) throw EvalError("range() takes 1 to 3 arguments");
  int64_t start = v.size() == 1 ? 0 : v[0];
  int64_t stop = v.size() == 1 ? v[0] : v[1];
  int64_t step = v.size() == 3 ? v[2] : 1;
  if (step == 0) throw EvalError("range() step must not be zero");
  double count =
      std::max(0.0, std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step)));
  interp.check_item_count(static_cast<size_t>(std::min(count, 1e18)));
  std::vector<Value> items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) items.emplace_back(i);
  return make_list(std::move(items));
}

// dict(mapping_or_pairs, **kwargs), also behind namespace().
DictPtr build_dict(const char* function, CallArgs& args) {
  auto dict = std::make_shared<DictData>();
  if (args.positional.size() > 1) throw EvalError(fmt::format("{}() takes at most 1 positional argument", function));
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict()) {
      dict->entries = source.as_dict()->entries;
    } else if (source.is_list()) {
      for (const Value& pair : source.as_list()->items) {
        std::vector<Value> kv = iterate(pair);
        if (kv.size() != 2 || !kv[0].is_string())
          throw EvalError(fmt::format("{}() expects (string key, value) pairs", function));
        dict->set(kv[0].as_string(), kv[1]);
      }
    } else {
      throw EvalError(fmt::format("{}() expects a mapping, got {}", function, type_name(source)));
    }
  }
  for (auto& [key, value] : args.keyword) dict->set(key, value);
  return dict;
}

}  // namespace

void install_globals(Scope& scope) {
  auto add = [&](const char* name, BuiltinFunction::Fn fn) {
    scope.set(name, Value(CallablePtr(std::make_shared<BuiltinFunction>(name, std::move(fn)))));
  };
  add("range", range_function);
  add("namespace", [](CallArgs& args, Interpreter& interp) {
    DictPtr data = build_dict("namespace", args);
    interp.track_namespace(data);
    return Value(Namespace{std::move(data)});
  });
  add("dict", [](CallArgs& args, Interpreter&) { return Value(build_dict("dict", args)); });
  add("raise_exception", [](CallArgs& args, Interpreter&) -> Value {
    std::string message = args.positional.empty() ? "" : to_str(args.positional[0]);
    throw EvalError("raise_exception: " + message);
  });
  add("strftime_now", [](CallArgs& args, Interpreter&) {
    ArgReader reader("strftime_now", args);
    const Value* format = reader.get(0, "format");
    reader.finish(1);
    if (format == nullptr || !format->is_string()) throw EvalError("strftime_now() takes a format string");
    if (format->as_string().size() > 256) throw EvalError("strftime_now() format longer than 256 bytes");
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buffer[1024];
    size_t n = std::strftime(buffer, sizeof(buffer), format->as_string().c_str(), &local);
    return Value(std::string(buffer, n));
  });
}

}  // namespace whale::jinja
