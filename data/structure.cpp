// Element and Structure (data/dataset.h): nested tuples/lists/dicts of tensors, and the structure's
// text form (encode/decode, what a cache file stores).
#include "pitfall/data/dataset.h"

#include <algorithm>
#include <numeric>

namespace pitfall::data {

// ---------------------------------------------------------------- Structure

namespace {

int64_t count_components(const std::vector<Structure>& children) {
  int64_t n = 0;
  for (const auto& c : children) n += c.num_components();
  return n;
}

std::string quote(const std::string& key) { return "'" + key + "'"; }

}  // namespace

Structure Structure::tuple(std::vector<Structure> children) {
  Structure s;
  s.kind_ = Kind::tuple;
  s.num_components_ = count_components(children);
  s.children_ = std::move(children);
  return s;
}

Structure Structure::list(std::vector<Structure> children) {
  Structure s = tuple(std::move(children));
  s.kind_ = Kind::list;
  return s;
}

Structure Structure::dict(std::vector<std::string> keys, std::vector<Structure> children) {
  if (keys.size() != children.size()) {
    throw ValueError("Structure::dict: " + std::to_string(keys.size()) + " keys for " +
                     std::to_string(children.size()) + " values");
  }
  std::vector<size_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  Structure s;
  s.kind_ = Kind::dict;
  for (size_t i : order) {
    if (!s.keys_.empty() && s.keys_.back() == keys[i]) throw ValueError("Structure::dict: duplicate key " + quote(keys[i]));
    s.keys_.push_back(keys[i]);
    s.children_.push_back(std::move(children[i]));
  }
  s.num_components_ = count_components(s.children_);
  return s;
}

int64_t Structure::child_offset(size_t i) const {
  int64_t offset = 0;
  for (size_t c = 0; c < i && c < children_.size(); ++c) offset += children_[c].num_components();
  return offset;
}

std::string Structure::str() const {
  if (kind_ == Kind::leaf) return ".";
  std::string out = kind_ == Kind::list ? "[" : kind_ == Kind::dict ? "{" : "(";
  for (size_t i = 0; i < children_.size(); ++i) {
    if (i) out += ", ";
    if (kind_ == Kind::dict) out += quote(keys_[i]) + ": ";
    out += children_[i].str();
  }
  if (kind_ == Kind::tuple && children_.size() == 1) out += ",";
  out += kind_ == Kind::list ? "]" : kind_ == Kind::dict ? "}" : ")";
  return out;
}

bool Structure::operator==(const Structure& other) const {
  return kind_ == other.kind_ && keys_ == other.keys_ && children_ == other.children_;
}

// Encoding: "." leaf; "(" children ")" tuple; "[" ... "]" list; "{" (length ":" key child)* "}".
std::string Structure::encode() const {
  switch (kind_) {
    case Kind::leaf: return ".";
    case Kind::tuple:
    case Kind::list: {
      std::string out = kind_ == Kind::tuple ? "(" : "[";
      for (const auto& c : children_) out += c.encode();
      return out + (kind_ == Kind::tuple ? ")" : "]");
    }
    case Kind::dict: {
      std::string out = "{";
      for (size_t i = 0; i < children_.size(); ++i) out += std::to_string(keys_[i].size()) + ":" + keys_[i] + children_[i].encode();
      return out + "}";
    }
  }
  return ".";
}

namespace {

Structure decode_at(const std::string& text, size_t& pos, int depth) {
  auto fail = [&](const std::string& what) -> Structure {
    throw ValueError("element structure '" + text.substr(0, 200) + "': " + what + " at character " + std::to_string(pos));
  };
  if (depth > 64) return fail("nesting deeper than 64 levels");
  if (pos >= text.size()) return fail("unexpected end");
  const char c = text[pos++];
  if (c == '.') return Structure();
  if (c == '(' || c == '[') {
    const char close = c == '(' ? ')' : ']';
    std::vector<Structure> children;
    while (pos < text.size() && text[pos] != close) children.push_back(decode_at(text, pos, depth + 1));
    if (pos >= text.size()) return fail("missing '" + std::string(1, close) + "'");
    ++pos;
    return c == '(' ? Structure::tuple(std::move(children)) : Structure::list(std::move(children));
  }
  if (c == '{') {
    std::vector<std::string> keys;
    std::vector<Structure> children;
    while (pos < text.size() && text[pos] != '}') {
      const size_t colon = text.find(':', pos);
      if (colon == std::string::npos || colon == pos || colon - pos > 9) return fail("bad key length");
      size_t length = 0;
      for (size_t i = pos; i < colon; ++i) {
        if (text[i] < '0' || text[i] > '9') return fail("bad key length");
        length = length * 10 + static_cast<size_t>(text[i] - '0');
      }
      pos = colon + 1;
      if (text.size() - pos < length) return fail("key runs past the end");
      keys.push_back(text.substr(pos, length));
      pos += length;
      children.push_back(decode_at(text, pos, depth + 1));
    }
    if (pos >= text.size()) return fail("missing '}'");
    ++pos;
    return Structure::dict(std::move(keys), std::move(children));
  }
  return fail(std::string("unexpected '") + c + "'");
}

}  // namespace

Structure Structure::decode(const std::string& text) {
  size_t pos = 0;
  Structure s = decode_at(text, pos, 0);
  if (pos != text.size()) throw ValueError("element structure '" + text.substr(0, 200) + "': trailing characters at " + std::to_string(pos));
  return s;
}

StructurePtr leaf_structure() {
  static const StructurePtr leaf = std::make_shared<const Structure>();
  return leaf;
}

// ---------------------------------------------------------------- Element

Element Element::leaf(Tensor tensor) { return Element{{std::move(tensor)}, leaf_structure()}; }

Element Element::tuple(const std::vector<Element>& parts) {
  std::vector<Structure> children;
  Element out;
  for (const auto& p : parts) {
    children.push_back(*p.structure);
    out.components.insert(out.components.end(), p.components.begin(), p.components.end());
  }
  out.structure = std::make_shared<const Structure>(Structure::tuple(std::move(children)));
  return out;
}

Element Element::child(size_t i) const {
  const auto& children = structure->children();
  if (i >= children.size()) {
    throw IndexError("element " + structure->str() + " has no part " + std::to_string(i));
  }
  const int64_t begin = structure->child_offset(i);
  Element out;
  out.components.assign(components.begin() + begin, components.begin() + begin + children[i].num_components());
  out.structure = children[i].kind() == Structure::Kind::leaf ? leaf_structure() : std::make_shared<const Structure>(children[i]);
  return out;
}

std::string Element::describe() const {
  std::string out = structure->kind() == Structure::Kind::leaf ? "" : structure->str() + " of ";
  for (size_t i = 0; i < components.size(); ++i) {
    out += (i ? ", " : "") + std::string(dtype_name(components[i].dtype())) + " " + shape_str(components[i].shape());
  }
  return out;
}

// ---------------------------------------------------------------- ElementError

ElementError::ElementError(ErrorKind kind, const std::string& message, std::string op, int64_t element_index,
                           std::exception_ptr original)
    : Error(kind, message), op_name_(std::move(op)), element_index_(element_index), original_(std::move(original)) {}

}  // namespace pitfall::data
