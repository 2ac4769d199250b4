// pitfall::data::Dataset: each transform's tf.data semantics, threads, cancellation, cache files.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <pitfall/pitfall.h>
#include <pitfall/data/dataset.h>

#include "saved_file_util.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::data;
using namespace pitfall::testing;

namespace {

int64_t scalar_of(const Element& e, size_t component = 0) {
  return static_cast<int64_t>(e.components.at(component).value_at(0));
}

std::vector<int64_t> values_of(const Dataset& ds) {
  std::vector<int64_t> out;
  for (const auto& e : ds.to_vector()) {
    const Tensor& t = e.components.at(0);
    for (int64_t i = 0; i < t.numel(); ++i) out.push_back(static_cast<int64_t>(t.value_at(i)));
  }
  return out;
}

std::vector<int64_t> iota_vector(int64_t n, int64_t start = 0) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = start + i;
  return v;
}

// x -> x * 10 + 1 as int64 (a cheap, checkable element function).
Element times_ten_plus_one(Element e, const ElementContext&) {
  const int64_t v = scalar_of(e);
  return Element::leaf(Tensor::from_vector(std::vector<int64_t>{v * 10 + 1}, Shape{}));
}

}  // namespace

TEST_SUITE("data pipeline") {

TEST_CASE("dataset: range, take, skip, shard, enumerate and their cardinalities") {
  CHECK(values_of(Dataset::range(0, 5)) == iota_vector(5));
  CHECK(values_of(Dataset::range(2, 11, 3)) == std::vector<int64_t>{2, 5, 8});
  CHECK(values_of(Dataset::range(5, 0, -2)) == std::vector<int64_t>{5, 3, 1});
  CHECK(Dataset::range(2, 11, 3).cardinality() == 3);
  CHECK(Dataset::range(5, 0, -2).cardinality() == 3);
  CHECK(Dataset::range(0, 0).cardinality() == 0);
  CHECK(values_of(Dataset::range(0, 10).take(3)) == std::vector<int64_t>{0, 1, 2});
  CHECK(values_of(Dataset::range(0, 10).skip(7)) == std::vector<int64_t>{7, 8, 9});
  CHECK(Dataset::range(0, 10).take(3).cardinality() == 3);
  CHECK(Dataset::range(0, 10).take(30).cardinality() == 10);
  CHECK(Dataset::range(0, 10).skip(7).cardinality() == 3);
  CHECK(Dataset::range(0, 10).skip(-1).cardinality() == 0);
  CHECK(values_of(Dataset::range(0, 10).shard(3, 1)) == std::vector<int64_t>{1, 4, 7});
  CHECK(Dataset::range(0, 10).shard(3, 0).cardinality() == 4);
  CHECK(Dataset::range(0, 10).shard(3, 2).cardinality() == 3);
  CHECK(contains(message_of([] { Dataset::range(0, 10).shard(3, 3); }), "index must be in [0, num_shards=3)"));

  const auto pairs = Dataset::range(0, 3).enumerate(10).to_vector();
  REQUIRE(pairs.size() == 3);
  CHECK(pairs[2].structure->str() == "(., .)");
  CHECK(scalar_of(pairs[2], 0) == 12);
  CHECK(scalar_of(pairs[2], 1) == 2);
  CHECK(pairs[0].components[0].dtype() == DType::int64);
}

TEST_CASE("dataset: repeat counts and infinite cardinality") {
  CHECK(values_of(Dataset::range(0, 3).repeat(2)) == std::vector<int64_t>{0, 1, 2, 0, 1, 2});
  CHECK(Dataset::range(0, 3).repeat(2).cardinality() == 6);
  CHECK(Dataset::range(0, 3).repeat().cardinality() == kInfiniteCardinality);
  CHECK(Dataset::range(0, 3).repeat().take(7).cardinality() == 7);
  CHECK(values_of(Dataset::range(0, 3).repeat().take(7)) == std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0});
  // An empty input repeated forever ends instead of spinning.
  CHECK(values_of(Dataset::range(0, 0).repeat()).empty());
  CHECK(contains(message_of([] { Dataset::range(0, 3).repeat().to_vector(); }), "infinite"));
}

TEST_CASE("dataset: from_tensor_slices slices every component and checks lengths") {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2});
  const Tensor y = Tensor::from_vector(std::vector<int32_t>{7, 8, 9}, {3});
  Element both{{x, y}, std::make_shared<const Structure>(Structure::tuple({Structure(), Structure()}))};
  const auto rows = Dataset::from_tensor_slices(both).to_vector();
  REQUIRE(rows.size() == 3);
  CHECK(rows[1].components[0].shape() == Shape{2});
  CHECK(rows[1].components[0].to_vector<float>() == std::vector<float>{3, 4});
  CHECK(rows[1].components[1].to_vector<int32_t>() == std::vector<int32_t>{8});
  CHECK(rows[1].structure->str() == "(., .)");
  const Tensor short_y = Tensor::from_vector(std::vector<int32_t>{7, 8}, {2});
  Element mismatched{{x, short_y}, both.structure};
  CHECK(contains(message_of([&] { Dataset::from_tensor_slices(mismatched); }), "same first dimension"));
  CHECK(contains(message_of([] { Dataset::from_tensor_slices(Element::leaf(Tensor::scalar(1.0))); }), "scalar"));
}

TEST_CASE("dataset: a small shuffle buffer only shuffles locally (P22)") {
  // range(10000).shuffle(1000): after k outputs the buffer holds only elements < 1000 + k, so the
  // first batch of 32 is all < 1032: the classic 'my sorted data is still sorted' failure.
  const auto batches = Dataset::range(0, 10000).shuffle(1000, 7).batch(32).take(1).to_vector();
  const auto first = batches.at(0).components.at(0).to_vector<int64_t>();
  REQUIRE(first.size() == 32);
  for (int64_t v : first) CHECK(v < 1032);
  // ...and it did shuffle within the buffer (not the identity order).
  CHECK(first != iota_vector(32));
  // Every element still comes out exactly once.
  auto all = values_of(Dataset::range(0, 10000).shuffle(1000, 7));
  std::sort(all.begin(), all.end());
  CHECK(all == iota_vector(10000));
  // A buffer as large as the data reaches the end of the data in the first batch.
  const auto full = Dataset::range(0, 10000).shuffle(10000, 7).batch(32).take(1).to_vector();
  const auto full_first = full.at(0).components.at(0).to_vector<int64_t>();
  CHECK(*std::max_element(full_first.begin(), full_first.end()) > 1032);
}

TEST_CASE("dataset: shuffle draws uniformly from its buffer") {
  // The first output of shuffle(buffer 8) over range(8) is uniform on 0..7: over 4000 seeds each
  // value appears about 500 times (chi-square with 7 degrees of freedom, 0.1% critical value 24.3).
  std::vector<int64_t> counts(8, 0);
  for (uint64_t seed = 0; seed < 4000; ++seed) {
    const auto first = Dataset::range(0, 8).shuffle(8, seed).take(1).to_vector();
    ++counts[static_cast<size_t>(scalar_of(first.at(0)))];
  }
  double chi2 = 0;
  for (int64_t c : counts) chi2 += (c - 500.0) * (c - 500.0) / 500.0;
  CHECK(chi2 < 24.3);
}

TEST_CASE("dataset: reshuffle_each_iteration on and off, and seeds") {
  const Dataset reshuffled = Dataset::range(0, 50).shuffle(50, 3, true);
  const auto first = values_of(reshuffled), second = values_of(reshuffled);
  CHECK(first != second);
  const Dataset fixed = Dataset::range(0, 50).shuffle(50, 3, false);
  CHECK(values_of(fixed) == values_of(fixed));
  // The same seed gives the same sequence of orders in a new pipeline (and a new process).
  const Dataset again = Dataset::range(0, 50).shuffle(50, 3, true);
  CHECK(values_of(again) == first);
  CHECK(values_of(again) == second);
  // seed=None takes the seed from the global generator: set_random_seed reproduces it.
  set_random_seed(11);
  const auto a = values_of(Dataset::range(0, 50).shuffle(50));
  set_random_seed(11);
  const auto b = values_of(Dataset::range(0, 50).shuffle(50));
  CHECK(a == b);
}

TEST_CASE("dataset: shuffle then repeat keeps epochs apart, repeat then shuffle mixes them") {
  // shuffle().repeat(): each epoch is a permutation of the data (reshuffled per epoch).
  const auto epochs = values_of(Dataset::range(0, 10).shuffle(10, 5).repeat(3));
  REQUIRE(epochs.size() == 30);
  std::vector<std::vector<int64_t>> orders;
  for (int e = 0; e < 3; ++e) {
    std::vector<int64_t> epoch(epochs.begin() + e * 10, epochs.begin() + (e + 1) * 10);
    orders.push_back(epoch);
    std::sort(epoch.begin(), epoch.end());
    CHECK(epoch == iota_vector(10));
  }
  CHECK((orders[0] != orders[1] || orders[1] != orders[2]));
  // repeat().shuffle(): the buffer spans the epoch boundary, so some seed puts an element of the
  // second pass among the first 10 outputs (a duplicate there).
  bool crossed = false;
  for (uint64_t seed = 0; seed < 20 && !crossed; ++seed) {
    auto head = values_of(Dataset::range(0, 10).repeat(3).shuffle(10, seed).take(10));
    std::sort(head.begin(), head.end());
    crossed = std::adjacent_find(head.begin(), head.end()) != head.end();
  }
  CHECK(crossed);
}

TEST_CASE("dataset: batch and drop_remainder") {
  const auto batches = Dataset::range(0, 10).batch(3).to_vector();
  REQUIRE(batches.size() == 4);
  CHECK(batches[0].components[0].shape() == Shape{3});
  CHECK(batches[3].components[0].to_vector<int64_t>() == std::vector<int64_t>{9});
  CHECK(Dataset::range(0, 10).batch(3).cardinality() == 4);
  const auto dropped = Dataset::range(0, 10).batch(3, true).to_vector();
  REQUIRE(dropped.size() == 3);
  CHECK(dropped[2].components[0].to_vector<int64_t>() == std::vector<int64_t>{6, 7, 8});
  CHECK(Dataset::range(0, 10).batch(3, true).cardinality() == 3);
  CHECK(contains(message_of([] { Dataset::range(0, 3).batch(0); }), "batch_size must be a positive integer"));
  // Elements of different shapes cannot be stacked; the error names the element and both shapes.
  const Dataset ragged = Dataset::range(1, 4).map([](Element e, const ElementContext&) {
    return Element::leaf(Tensor::zeros({scalar_of(e)}));
  });
  const std::string message = message_of([&] { ragged.batch(3).to_vector(); });
  CHECK(contains(message, "different shapes"));
  CHECK(contains(message, "input element 1"));
  CHECK(contains(message, "(2,)"));
}

TEST_CASE("dataset: unbatch undoes batch") {
  CHECK(values_of(Dataset::range(0, 10).batch(4).unbatch()) == iota_vector(10));
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2});
  const auto rows = Dataset::from_tensors(Element::leaf(x)).unbatch().to_vector();
  REQUIRE(rows.size() == 3);
  CHECK(rows[2].components[0].to_vector<float>() == std::vector<float>{5, 6});
  CHECK(contains(message_of([] { Dataset::range(0, 2).unbatch().to_vector(); }), "scalar component"));
}

TEST_CASE("dataset: map inline and parallel give the same elements in the same order") {
  const auto expected = values_of(Dataset::range(0, 200).map(times_ten_plus_one));
  CHECK(expected.front() == 1);
  CHECK(expected.back() == 1991);
  for (int64_t threads : {int64_t{1}, int64_t{2}, int64_t{4}, kAutotune}) {
    CAPTURE(threads);
    // Uneven per-element delays make late elements finish first; deterministic order still holds.
    const Dataset ds = Dataset::range(0, 200).map(
        [](Element e, const ElementContext& c) {
          if (c.index % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
          return times_ten_plus_one(std::move(e), c);
        },
        threads);
    CHECK(values_of(ds) == expected);
  }
}

TEST_CASE("dataset: a non-deterministic parallel map returns the same multiset, possibly reordered") {
  const auto expected = values_of(Dataset::range(0, 100).map(times_ten_plus_one));
  const Dataset ds = Dataset::range(0, 100).map(
      [](Element e, const ElementContext& c) {
        // Element 0 is slow: a non-deterministic map lets the others pass it.
        if (c.index == 0) std::this_thread::sleep_for(std::chrono::milliseconds(30));
        return times_ten_plus_one(std::move(e), c);
      },
      4, false);
  auto got = values_of(ds);
  CHECK(got != expected);  // element 0 (value 1) no longer comes first
  std::sort(got.begin(), got.end());
  CHECK(got == expected);
  // Options(deterministic=false) has the same effect when map leaves it unset; map's own
  // argument wins over the options.
  Options loose;
  loose.deterministic = false;
  const Dataset via_options = Dataset::range(0, 100)
                                  .map(
                                      [](Element e, const ElementContext& c) {
                                        if (c.index == 0) std::this_thread::sleep_for(std::chrono::milliseconds(30));
                                        return times_ten_plus_one(std::move(e), c);
                                      },
                                      4)
                                  .with_options(loose);
  CHECK(via_options.options().deterministic == std::optional<bool>(false));
  CHECK(values_of(via_options) != expected);
}

TEST_CASE("dataset: an error inside map names the element, keeps the original, and the rest still flows") {
  for (std::optional<int64_t> threads : {std::optional<int64_t>(), std::optional<int64_t>(3)}) {
    const Dataset ds = Dataset::range(0, 6).map(
        [](Element e, const ElementContext&) {
          if (scalar_of(e) == 4) throw ValueError("value 4 is bad");
          return e;
        },
        threads, std::nullopt, "check");
    auto it = ds.make_iterator();
    for (int64_t i = 0; i < 4; ++i) CHECK(scalar_of(*it->next()) == i);
    try {
      it->next();
      FAIL("expected an ElementError");
    } catch (const ElementError& e) {
      CHECK(e.element_index() == 4);
      CHECK(e.op_name() == "check");
      CHECK(e.kind() == ErrorKind::value);
      CHECK(contains(e.what(), "input element 4"));
      CHECK(contains(e.what(), "value 4 is bad"));
      CHECK_THROWS_AS(std::rethrow_exception(e.original()), ValueError);
    }
    CHECK(scalar_of(*it->next()) == 5);
    CHECK(!it->next());
  }
}

TEST_CASE("dataset: filter keeps the elements the predicate accepts") {
  const Dataset even = Dataset::range(0, 10).filter([](const Element& e, const ElementContext&) { return scalar_of(e) % 2 == 0; });
  CHECK(values_of(even) == std::vector<int64_t>{0, 2, 4, 6, 8});
  CHECK(even.cardinality() == kUnknownCardinality);
  const Dataset failing = Dataset::range(0, 3).filter([](const Element& e, const ElementContext&) -> bool {
    if (scalar_of(e) == 2) throw DTypeError("not a bool");
    return true;
  });
  CHECK(contains(message_of([&] { failing.to_vector(); }), "input element 2"));
}

TEST_CASE("dataset: zip and concatenate") {
  const auto pairs = Dataset::zip({Dataset::range(0, 5), Dataset::range(10, 13)}).to_vector();
  REQUIRE(pairs.size() == 3);
  CHECK(scalar_of(pairs[2], 0) == 2);
  CHECK(scalar_of(pairs[2], 1) == 12);
  CHECK(Dataset::zip({Dataset::range(0, 5), Dataset::range(10, 13)}).cardinality() == 3);
  CHECK(values_of(Dataset::range(0, 3).concatenate(Dataset::range(7, 9))) == std::vector<int64_t>{0, 1, 2, 7, 8});
  CHECK(Dataset::range(0, 3).concatenate(Dataset::range(7, 9)).cardinality() == 5);
  const Dataset pairs_ds = Dataset::zip({Dataset::range(0, 2), Dataset::range(0, 2)});
  CHECK(contains(message_of([&] { Dataset::range(0, 2).concatenate(pairs_ds).to_vector(); }), "structure"));
}

TEST_CASE("dataset: from_generator restarts per iteration and reports the failing element") {
  int64_t calls = 0;
  const Dataset ds = Dataset::from_generator([&calls]() -> ElementGenerator {
    ++calls;
    auto next = std::make_shared<int64_t>(0);
    return [next]() -> std::optional<Element> {
      if (*next >= 4) return std::nullopt;
      if (*next == 3 && false) throw ValueError("unused");
      return Element::leaf(Tensor::from_vector(std::vector<int64_t>{(*next)++}, Shape{}));
    };
  });
  CHECK(values_of(ds) == iota_vector(4));
  CHECK(values_of(ds) == iota_vector(4));
  CHECK(calls == 2);
  CHECK(ds.cardinality() == kUnknownCardinality);
  const Dataset broken = Dataset::from_generator([]() -> ElementGenerator {
    auto next = std::make_shared<int64_t>(0);
    return [next]() -> std::optional<Element> {
      if (*next == 3) throw RuntimeError("disk went away");
      return Element::leaf(Tensor::from_vector(std::vector<int64_t>{(*next)++}, Shape{}));
    };
  });
  auto it = broken.make_iterator();
  for (int i = 0; i < 3; ++i) it->next();
  try {
    it->next();
    FAIL("expected an ElementError");
  } catch (const ElementError& e) {
    CHECK(e.element_index() == 3);
    CHECK(contains(e.what(), "disk went away"));
  }
  CHECK(!it->next());  // a generator that failed is finished
}

TEST_CASE("dataset: a memory cache fills on the first complete pass only") {
  auto calls = std::make_shared<std::atomic<int64_t>>(0);
  const Dataset ds = Dataset::range(0, 5)
                         .map([calls](Element e, const ElementContext& c) {
                           ++*calls;
                           return times_ten_plus_one(std::move(e), c);
                         })
                         .cache();
  {
    auto partial = ds.make_iterator();
    partial->next();
    partial->next();
  }
  CHECK(calls->load() == 2);
  const auto first = values_of(ds);  // the abandoned pass did not fill the cache
  CHECK(calls->load() == 7);
  CHECK(values_of(ds) == first);
  CHECK(values_of(ds) == first);
  CHECK(calls->load() == 7);
  // Randomness upstream of a cache is frozen by it (tf.data: cache after shuffle repeats one order).
  const Dataset frozen = Dataset::range(0, 20).shuffle(20, 1).cache();
  CHECK(values_of(frozen) == values_of(frozen));
}

TEST_CASE("dataset: a file cache is written atomically and read by a new pipeline") {
  TempDir dir("dataset_cache");
  const std::string path = dir.file("cache.bin");
  auto calls = std::make_shared<std::atomic<int64_t>>(0);
  auto make = [&] {
    const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2});
    const Tensor y = Tensor::from_vector(std::vector<uint8_t>{7, 8, 9}, {3});
    Element both{{x, y}, std::make_shared<const Structure>(Structure::dict({"label", "image"}, {Structure(), Structure()}))};
    return Dataset::from_tensor_slices(both)
        .map([calls](Element e, const ElementContext&) {
          ++*calls;
          return e;
        })
        .cache(path);
  };
  {
    auto partial = make().make_iterator();
    partial->next();
  }
  CHECK(!std::filesystem::exists(path));  // an abandoned pass leaves no file (and no temporary)
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()) == 0);
  const auto written = make().to_vector();
  CHECK(std::filesystem::exists(path));
  const int64_t calls_after_write = calls->load();
  const auto read = make().to_vector();
  CHECK(calls->load() == calls_after_write);  // served from the file
  REQUIRE(read.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(*read[i].structure == *written[i].structure);
    CHECK(read[i].structure->keys() == std::vector<std::string>{"image", "label"});
    for (size_t c = 0; c < 2; ++c) {
      CHECK(read[i].components[c].dtype() == written[i].components[c].dtype());
      CHECK(bitwise_equal(read[i].components[c], written[i].components[c]));
    }
  }
  // A corrupted byte is caught by the checksum before any element is handed out.
  auto bytes = read_bytes(path);
  bytes[20] ^= 0x40;
  write_bytes(path, bytes);
  const std::string message = message_of([&] { make().to_vector(); });
  CHECK(contains(message, "CRC-32 mismatch"));
  CHECK(contains(message, path));
  bytes.resize(bytes.size() - 5);
  write_bytes(path, bytes);
  CHECK(contains(message_of([&] { make().to_vector(); }), "byte offset"));
}

TEST_CASE("dataset: prefetch yields the same elements and surfaces upstream errors in order") {
  CHECK(values_of(Dataset::range(0, 100).prefetch(4)) == iota_vector(100));
  CHECK(values_of(Dataset::range(0, 100).prefetch(kAutotune)) == iota_vector(100));
  CHECK(values_of(Dataset::range(0, 100).prefetch(0)) == iota_vector(100));
  const Dataset failing = Dataset::range(0, 5)
                              .map([](Element e, const ElementContext&) {
                                if (scalar_of(e) == 2) throw ValueError("bad element");
                                return e;
                              })
                              .prefetch(8);
  auto it = failing.make_iterator();
  CHECK(scalar_of(*it->next()) == 0);
  CHECK(scalar_of(*it->next()) == 1);
  CHECK(contains(message_of([&] { it->next(); }), "input element 2"));
  CHECK(scalar_of(*it->next()) == 3);
}

TEST_CASE("dataset: abandoned iterators stop their threads, even when blocked") {
  const int64_t before = live_pipeline_threads();
  {
    // Producers blocked on a full buffer, and a slow upstream map: destruction must not hang.
    const Dataset ds = Dataset::range(0, 1000000)
                           .map(
                               [](Element e, const ElementContext&) {
                                 std::this_thread::sleep_for(std::chrono::microseconds(200));
                                 return e;
                               },
                               3)
                           .prefetch(2)
                           .repeat()
                           .prefetch(kAutotune);
    auto it = ds.make_iterator();
    for (int i = 0; i < 5; ++i) it->next();
    CHECK(live_pipeline_threads() > before);
  }
  CHECK(live_pipeline_threads() == before);
  // shutdown_all_pipelines stops live iterators; their next() then reports the cancellation.
  const Dataset ds = Dataset::range(0, 1000000).prefetch(2);
  auto it = ds.make_iterator();
  it->next();
  shutdown_all_pipelines();
  CHECK(live_pipeline_threads() == before);
  CHECK(contains(message_of([&] { it->next(); }), "cancelled"));
}

TEST_CASE("dataset: deterministic results whatever the kernel thread count and map parallelism") {
  // A pipeline with shuffle, a parallel map doing tensor math, and batching: bitwise the same
  // with 1 or 2 kernel threads and 1 or 4 map threads.
  auto run = [](int64_t map_threads) {
    const Tensor x = random_normal({64, 16}, 0.0, 1.0, DType::float32, RandomKey{5, 1});
    return Dataset::from_tensor_slices(Element::leaf(x))
        .shuffle(64, 9)
        .map([](Element e, const ElementContext&) { return Element::leaf(tanh(multiply(e.components[0], 3.0))); },
             map_threads)
        .batch(10)
        .to_vector();
  };
  auto flat = [&](int64_t map_threads) {
    std::vector<Tensor> out;
    for (const auto& e : run(map_threads)) out.push_back(e.components[0]);
    return out;
  };
  const auto [one_thread, two_threads] = run_with_1_and_2_threads([&] {
    auto a = flat(1), b = flat(4);
    a.insert(a.end(), b.begin(), b.end());
    return a;
  });
  REQUIRE(one_thread.size() == 14);
  for (size_t i = 0; i < one_thread.size(); ++i) {
    CHECK(bitwise_equal(one_thread[i], two_threads[i]));
    CHECK(bitwise_equal(one_thread[i], one_thread[i % 7]));
  }
}

TEST_CASE("structure: encode and decode round trip, and bad text is rejected") {
  const Structure s = Structure::tuple(
      {Structure(), Structure::dict({"b", "a:x"}, {Structure::list({Structure(), Structure()}), Structure()})});
  CHECK(s.num_components() == 4);
  CHECK(s.str() == "(., {'a:x': ., 'b': [., .]})");
  CHECK(Structure::decode(s.encode()) == s);
  CHECK(Structure::decode(".") == Structure());
  CHECK(contains(message_of([] { Structure::decode("(.."); }), "missing ')'"));
  CHECK(contains(message_of([] { Structure::decode("{99:a.}"); }), "runs past the end"));
  CHECK(contains(message_of([] { Structure::dict({"k", "k"}, {Structure(), Structure()}); }), "duplicate key"));
}

}  // TEST_SUITE
