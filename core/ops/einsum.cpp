// einsum and tensordot, composed from diagonal gathers (take), sums, broadcasts, transposes,
// reshapes and matmul, so gradients come by composition. Operands are contracted pairwise from
// left to right (NumPy's order without optimize=), each pair as one batched matmul.
#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "pitfall/core/ops/op_helpers.h"

namespace pitfall {

using detail::describe;

namespace {

// A subscript label: a letter's character code, or kEllipsis + r for the ellipsis dimension r
// places from the right (ellipsis dimensions of different operands broadcast right-aligned).
using Label = int;
using Labels = std::vector<Label>;
constexpr Label kEllipsis = 256;

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

[[noreturn]] void bad_subscripts(const std::string& subscripts, const std::string& why) {
  throw ValueError("einsum: subscripts '" + subscripts + "' " + why +
                   " (NumPy notation: letters per operand axis, ',' between operands, optional '...' and '->output')");
}

// The labels of one term for an operand of `ndim` axes (ndim < 0: the output, whose ellipsis
// covers `ellipsis_rank` axes).
Labels parse_term(const std::string& subscripts, const std::string& term, int64_t ndim, int64_t ellipsis_rank,
                  bool& has_ellipsis) {
  Labels letters_before, letters_after;
  has_ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    if (term.compare(i, 3, "...") == 0) {
      if (has_ellipsis) bad_subscripts(subscripts, "use '...' more than once in the term '" + term + "'");
      has_ellipsis = true;
      i += 2;
    } else if (is_letter(term[i])) {
      (has_ellipsis ? letters_after : letters_before).push_back(static_cast<unsigned char>(term[i]));
    } else {
      bad_subscripts(subscripts, "contain '" + std::string(1, term[i]) + "', which is not a letter");
    }
  }
  const int64_t letters = static_cast<int64_t>(letters_before.size() + letters_after.size());
  int64_t covered = 0;
  if (ndim >= 0) {
    if (has_ellipsis ? letters > ndim : letters != ndim) {
      bad_subscripts(subscripts, "give the term '" + term + "' " + std::to_string(letters) +
                                     " letters for an operand of rank " + std::to_string(ndim));
    }
    covered = has_ellipsis ? ndim - letters : 0;
  } else {
    covered = has_ellipsis ? ellipsis_rank : 0;
  }
  Labels labels = letters_before;
  for (int64_t r = covered; r-- > 0;) labels.push_back(kEllipsis + static_cast<Label>(r));
  labels.insert(labels.end(), letters_after.begin(), letters_after.end());
  return labels;
}

int64_t position(const Labels& labels, Label label) {
  return std::find(labels.begin(), labels.end(), label) - labels.begin();
}

bool contains(const Labels& labels, Label label) {
  return std::find(labels.begin(), labels.end(), label) != labels.end();
}

// An operand with one label per axis.
struct Term {
  Tensor value;
  Labels labels;
};

// Takes diagonals until every label is unique: axes p < q with one label become one axis at p.
Term take_diagonals(Term term, const std::string& subscripts) {
  for (size_t p = 0; p < term.labels.size(); ++p) {
    for (size_t q = p + 1; q < term.labels.size(); ++q) {
      if (term.labels[p] != term.labels[q]) continue;
      const int64_t n = term.value.shape()[p];
      if (term.value.shape()[q] != n) {
        bad_subscripts(subscripts, "repeat a label over axes of sizes " + std::to_string(n) + " and " +
                                       std::to_string(term.value.shape()[q]) + "; a diagonal needs equal sizes");
      }
      // Move axis q next to p, merge the two, and gather the positions i * (n + 1).
      std::vector<int64_t> order;
      for (size_t d = 0; d < term.labels.size(); ++d) {
        if (d == q) continue;
        order.push_back(static_cast<int64_t>(d));
        if (d == p) order.push_back(static_cast<int64_t>(q));
      }
      Shape merged;
      for (size_t d = 0; d < term.labels.size(); ++d) {
        if (d == q) continue;
        merged.push_back(d == p ? n * n : term.value.shape()[d]);
      }
      std::vector<int64_t> diagonal(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) diagonal[i] = i * (n + 1);
      const Tensor index = Tensor::from_vector(diagonal, Shape{n}).to(term.value.device());
      term.value = take(reshape(transpose(term.value, order), merged), index, static_cast<int64_t>(p));
      term.labels.erase(term.labels.begin() + static_cast<std::ptrdiff_t>(q));
      --q;
    }
  }
  return term;
}

// Sums the axes whose labels are not in `keep`.
Term sum_unkept(Term term, const std::set<Label>& keep) {
  std::vector<int64_t> axes;
  Labels kept;
  for (size_t d = 0; d < term.labels.size(); ++d) {
    if (keep.count(term.labels[d])) {
      kept.push_back(term.labels[d]);
    } else {
      axes.push_back(static_cast<int64_t>(d));
    }
  }
  if (axes.empty()) return term;
  return Term{sum(term.value, axes), kept};
}

Shape sizes_of(const Term& term, const Labels& labels) {
  Shape shape;
  for (Label l : labels) shape.push_back(term.value.shape()[position(term.labels, l)]);
  return shape;
}

// a (batch, a_free, contracted) @ b (batch, contracted, b_free) as one matmul, where `batch` are the
// shared labels in `keep` and `contracted` the shared ones not in it. Shared axes of size 1 are
// broadcast to the other operand's size first.
Term contract(Term a, Term b, const std::set<Label>& keep, const std::string& subscripts) {
  Labels batch, contracted, a_free, b_free;
  for (Label l : a.labels) {
    if (!contains(b.labels, l)) {
      a_free.push_back(l);
    } else {
      (keep.count(l) ? batch : contracted).push_back(l);
    }
  }
  for (Label l : b.labels) {
    if (!contains(a.labels, l)) b_free.push_back(l);
  }
  Shape a_shape = a.value.shape(), b_shape = b.value.shape();
  for (Label l : a.labels) {
    if (!contains(b.labels, l)) continue;
    int64_t& na = a_shape[position(a.labels, l)];
    int64_t& nb = b_shape[position(b.labels, l)];
    if (na == nb) continue;
    if (na != 1 && nb != 1) {
      bad_subscripts(subscripts, "join axes of sizes " + std::to_string(na) + " and " + std::to_string(nb) +
                                     " under one label; they must match or be 1 (broadcast)");
    }
    na = nb = std::max(na, nb);
  }
  if (a_shape != a.value.shape()) a.value = broadcast_to(a.value, a_shape);
  if (b_shape != b.value.shape()) b.value = broadcast_to(b.value, b_shape);
  auto order_of = [](const Term& t, std::initializer_list<const Labels*> groups) {
    std::vector<int64_t> order;
    for (const Labels* g : groups) {
      for (Label l : *g) order.push_back(position(t.labels, l));
    }
    return order;
  };
  auto product = [](const Shape& s) { return shape_numel(s); };
  const Shape batch_shape = sizes_of(a, batch);
  const Shape a_free_shape = sizes_of(a, a_free), b_free_shape = sizes_of(b, b_free);
  const int64_t k = product(sizes_of(a, contracted));
  Shape a_matrix = batch_shape, b_matrix = batch_shape;
  a_matrix.insert(a_matrix.end(), {product(a_free_shape), k});
  b_matrix.insert(b_matrix.end(), {k, product(b_free_shape)});
  const Tensor left = reshape(transpose(a.value, order_of(a, {&batch, &a_free, &contracted})), a_matrix);
  const Tensor right = reshape(transpose(b.value, order_of(b, {&batch, &contracted, &b_free})), b_matrix);
  Shape out_shape = batch_shape;
  out_shape.insert(out_shape.end(), a_free_shape.begin(), a_free_shape.end());
  out_shape.insert(out_shape.end(), b_free_shape.begin(), b_free_shape.end());
  Labels out_labels = batch;
  out_labels.insert(out_labels.end(), a_free.begin(), a_free.end());
  out_labels.insert(out_labels.end(), b_free.begin(), b_free.end());
  return Term{reshape(matmul(left, right), out_shape), out_labels};
}

}  // namespace

Tensor einsum(const std::string& subscripts, const std::vector<Tensor>& operands) {
  OpScope scope("einsum");
  if (operands.empty()) throw ValueError("einsum needs at least one operand");
  for (size_t i = 1; i < operands.size(); ++i) detail::check_same_dtype("einsum", operands[0], operands[i]);
  detail::check_numeric("einsum", operands[0]);
  std::string spec;
  for (char c : subscripts) {
    if (c != ' ') spec += c;
  }
  const size_t arrow = spec.find("->");
  const std::string inputs = spec.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    const size_t comma = inputs.find(',', start);
    terms.push_back(inputs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != operands.size()) {
    bad_subscripts(subscripts, "name " + std::to_string(terms.size()) + " operands but " +
                                   std::to_string(operands.size()) + " were given");
  }
  std::vector<Term> parsed;
  int64_t ellipsis_rank = 0;
  std::map<Label, int> uses;
  for (size_t i = 0; i < terms.size(); ++i) {
    bool has_ellipsis = false;
    Labels labels = parse_term(subscripts, terms[i], operands[i].ndim(), 0, has_ellipsis);
    for (Label l : labels) {
      if (l >= kEllipsis) ellipsis_rank = std::max<int64_t>(ellipsis_rank, l - kEllipsis + 1);
      ++uses[l];
    }
    parsed.push_back(Term{operands[i], labels});
  }
  Labels output;
  if (arrow != std::string::npos) {
    bool has_ellipsis = false;
    output = parse_term(subscripts, spec.substr(arrow + 2), -1, ellipsis_rank, has_ellipsis);
    if (!has_ellipsis && ellipsis_rank > 0) {
      bad_subscripts(subscripts, "broadcast " + std::to_string(ellipsis_rank) +
                                     " axes with '...' but the output has no '...' to hold them");
    }
    for (size_t i = 0; i < output.size(); ++i) {
      if (!uses.count(output[i])) {
        bad_subscripts(subscripts, "have the output label '" + std::string(1, static_cast<char>(output[i])) +
                                       "', which no operand has");
      }
      if (std::count(output.begin(), output.end(), output[i]) > 1) {
        bad_subscripts(subscripts, "repeat the output label '" + std::string(1, static_cast<char>(output[i])) + "'");
      }
    }
  } else {
    // Implicit output (NumPy): the ellipsis axes, then the labels used once, in character order.
    for (int64_t r = ellipsis_rank; r-- > 0;) output.push_back(kEllipsis + static_cast<Label>(r));
    for (const auto& [label, count] : uses) {
      if (label < kEllipsis && count == 1) output.push_back(label);
    }
  }
  // Labels still needed after operand i: the output's and those of the operands after it.
  std::vector<std::set<Label>> keep_after(parsed.size());
  std::set<Label> needed(output.begin(), output.end());
  for (size_t i = parsed.size(); i-- > 0;) {
    keep_after[i] = needed;
    needed.insert(parsed[i].labels.begin(), parsed[i].labels.end());
  }
  Term result;
  for (size_t i = 0; i < parsed.size(); ++i) {
    Term term = take_diagonals(parsed[i], subscripts);
    std::set<Label> keep = keep_after[i];
    if (i > 0) keep.insert(result.labels.begin(), result.labels.end());
    term = sum_unkept(term, keep);
    if (i == 0) {
      result = term;
      continue;
    }
    std::set<Label> keep_result = keep_after[i];
    keep_result.insert(term.labels.begin(), term.labels.end());
    result = sum_unkept(result, keep_result);
    result = contract(result, term, keep_after[i], subscripts);
  }
  result = sum_unkept(result, std::set<Label>(output.begin(), output.end()));
  std::vector<int64_t> order;
  for (Label l : output) order.push_back(position(result.labels, l));
  std::vector<int64_t> identity(order.size());
  std::iota(identity.begin(), identity.end(), int64_t{0});
  return order == identity ? result.value : transpose(result.value, order);
}

Tensor tensordot(const Tensor& a, const Tensor& b, const std::vector<int64_t>& a_axes, const std::vector<int64_t>& b_axes) {
  OpScope scope("tensordot");
  if (a_axes.size() != b_axes.size()) {
    throw ValueError("tensordot: " + std::to_string(a_axes.size()) + " axes of x1 paired with " +
                     std::to_string(b_axes.size()) + " axes of x2; give the same number for both");
  }
  if (a.ndim() + b.ndim() > 52) throw ValueError("tensordot: operands of total rank above 52 are not supported");
  // np.tensordot as an einsum: x1's free axes, then x2's, in order.
  auto letter = [](int64_t i) { return static_cast<char>(i < 26 ? 'a' + i : 'A' + (i - 26)); };
  std::string a_term, b_term(static_cast<size_t>(b.ndim()), ' '), out;
  for (int64_t i = 0; i < a.ndim(); ++i) a_term += letter(i);
  int64_t next = a.ndim();
  std::vector<bool> a_paired(static_cast<size_t>(a.ndim()), false), b_paired(static_cast<size_t>(b.ndim()), false);
  for (size_t k = 0; k < a_axes.size(); ++k) {
    const int64_t i = normalize_axis(a_axes[k], a.ndim(), "tensordot");
    const int64_t j = normalize_axis(b_axes[k], b.ndim(), "tensordot");
    if (a_paired[i] || b_paired[j]) throw ValueError("tensordot: an axis is paired twice; pair each axis once");
    if (a.shape()[i] != b.shape()[j]) {
      throw ShapeError("tensordot: axis " + std::to_string(i) + " of x1 " + describe(a) + " (size " +
                       std::to_string(a.shape()[i]) + ") is summed against axis " + std::to_string(j) + " of x2 " +
                       describe(b) + " (size " + std::to_string(b.shape()[j]) + "); the sizes must match");
    }
    a_paired[i] = b_paired[j] = true;
    b_term[j] = a_term[i];
  }
  for (int64_t i = 0; i < a.ndim(); ++i) {
    if (!a_paired[i]) out += a_term[i];
  }
  for (int64_t j = 0; j < b.ndim(); ++j) {
    if (!b_paired[j]) out += b_term[j] = letter(next++);
  }
  return einsum(a_term + "," + b_term + "->" + out, {a, b});
}

}  // namespace pitfall
