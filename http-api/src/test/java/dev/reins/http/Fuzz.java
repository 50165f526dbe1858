package dev.reins.http;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Seeded random tries for property tests: generators over a {@link SplittableRandom} and a loop
 * that runs a property a number of times and, when it fails, names the seed that replays the
 * whole sequence ({@code -Dreins.fuzz.seed=...}). No shrinking: the properties here send one
 * request per try to a live server, and the failing request is printed whole.
 *
 * <p>Why not jqwik: its maintainers ask that coding agents not use it (the "Anti-AI Usage Clause"
 * of 1.10), and its engine prints a line addressed to agents into every test log, which the
 * agents that build and review this project read. What is needed here is small.
 */
final class Fuzz {
  private static final Logger log = LoggerFactory.getLogger(Fuzz.class);

  private Fuzz() {}

  /** A generator of values of {@code T}. */
  @FunctionalInterface
  interface Gen<T> {
    T next(SplittableRandom random);

    default <U> Gen<U> map(Function<? super T, ? extends U> f) {
      return r -> f.apply(next(r));
    }

    default <U> Gen<U> flatMap(Function<? super T, Gen<U>> f) {
      return r -> f.apply(next(r)).next(r);
    }
  }

  /** A property of one generated value; fails by throwing. */
  @FunctionalInterface
  interface Property<T> {
    void check(T value) throws Exception;
  }

  // ---- running ----------------------------------------------------------------------------------

  /**
   * Runs {@code property} on {@code tries} values of {@code gen} ({@code -Dreins.fuzz.tries}
   * multiplies them), all drawn from one seed ({@code -Dreins.fuzz.seed}, else a random one).
   * The seed is logged first, so even a run that hangs can be replayed.
   */
  static <T> void forAll(String name, int tries, Gen<T> gen, Property<T> property) {
    long seed = Long.getLong("reins.fuzz.seed", ThreadLocalRandom.current().nextLong());
    int n = Math.max(1, (int) Math.round(tries * Double.parseDouble(System.getProperty("reins.fuzz.tries", "1"))));
    log.info("property {}: {} tries, seed {}", name, n, seed);
    SplittableRandom random = new SplittableRandom(seed);
    LABELS.set(new TreeMap<>());
    try {
      for (int i = 1; i <= n; i++) {
        T value = gen.next(random);
        try {
          property.check(value);
        } catch (Throwable e) {
          throw new AssertionError(String.format(
              "property %s failed at try %d of %d; replay with -Dreins.fuzz.seed=%d%n  input: %s%n  failure: %s",
              name, i, n, seed, value, e.getMessage()), e);
        }
      }
      log.info("property {}: what the tries were: {}", name, LABELS.get());
    } finally {
      LABELS.remove();
    }
  }

  private static final ThreadLocal<Map<String, Integer>> LABELS = new ThreadLocal<>();

  /** Counts a kind of try ({@code "valid 202"}); the counts are logged after the property, to show what it covered. */
  static void label(String kind) {
    Map<String, Integer> labels = LABELS.get();
    if (labels != null) {
      labels.merge(kind, 1, Integer::sum);
    }
  }

  // ---- generators -------------------------------------------------------------------------------

  static <T> Gen<T> constant(T value) {
    return r -> value;
  }

  @SafeVarargs
  static <T> Gen<T> element(T... values) {
    List<T> copy = Arrays.asList(values.clone());
    return r -> copy.get(r.nextInt(copy.size()));
  }

  static <T> Gen<T> element(List<T> values) {
    List<T> copy = List.copyOf(values);
    return r -> copy.get(r.nextInt(copy.size()));
  }

  /** A choice weighted by the given frequencies. */
  static <T> Weighted<T> weighted() {
    return new Weighted<>();
  }

  static final class Weighted<T> implements Gen<T> {
    private final List<Gen<? extends T>> gens = new ArrayList<>();
    private final List<Integer> weights = new ArrayList<>();
    private int total;

    Weighted<T> or(int weight, Gen<? extends T> gen) {
      gens.add(gen);
      weights.add(weight);
      total += weight;
      return this;
    }

    @Override
    public T next(SplittableRandom r) {
      int pick = r.nextInt(total);
      for (int i = 0; i < gens.size(); i++) {
        pick -= weights.get(i);
        if (pick < 0) {
          return gens.get(i).next(r);
        }
      }
      throw new IllegalStateException("unreachable");
    }
  }

  static Gen<Integer> ints(int min, int maxInclusive) {
    return r -> r.nextInt(min, maxInclusive + 1);
  }

  static Gen<Long> longs(long min, long maxInclusive) {
    return r -> maxInclusive == Long.MAX_VALUE ? r.nextLong(min, maxInclusive) : r.nextLong(min, maxInclusive + 1);
  }

  static Gen<Boolean> chance(double p) {
    return r -> r.nextDouble() < p;
  }

  static <T> Gen<List<T>> lists(Gen<T> element, int min, int max) {
    return r -> {
      int size = r.nextInt(min, max + 1);
      List<T> out = new ArrayList<>(size);
      for (int i = 0; i < size; i++) {
        out.add(element.next(r));
      }
      return out;
    };
  }

  /** Strings of {@code min} to {@code max} code points drawn from {@code codePoint}. */
  static Gen<String> strings(Gen<Integer> codePoint, int min, int max) {
    return r -> {
      int size = r.nextInt(min, max + 1);
      StringBuilder sb = new StringBuilder(size);
      for (int i = 0; i < size; i++) {
        sb.appendCodePoint(codePoint.next(r));
      }
      return sb.toString();
    };
  }

  /** Code points of every kind: ASCII (mostly), controls, NUL, Latin-1, BMP, astral, lone surrogates. */
  static Gen<Integer> anyCodePoint() {
    return Fuzz.<Integer>weighted()
        .or(60, ints(0x20, 0x7e))
        .or(5, ints(0, 0x1f))
        .or(2, constant(0))
        .or(5, ints(0x80, 0xff))
        .or(10, ints(0x100, 0xd7ff))
        .or(3, ints(0xe000, 0xfffd))
        .or(5, ints(0x10000, 0x10ffff))
        .or(3, ints(0xd800, 0xdfff))
        .or(2, element(0xfeff, 0xfffe, 0xffff, 0x2028, 0x2029, 0xa0, 0x85));
  }

  static Gen<Integer> asciiPrintable() {
    return ints(0x21, 0x7e);
  }

  static Gen<Integer> alphanumeric() {
    return element("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".chars().boxed().toList());
  }

  static Gen<byte[]> bytes(int min, int max) {
    return r -> {
      byte[] b = new byte[r.nextInt(min, max + 1)];
      r.nextBytes(b);
      return b;
    };
  }

  // ---- printing ---------------------------------------------------------------------------------

  /** {@code s} quoted with control characters, non-ASCII and surrogates escaped, cut after 400 chars. */
  static String show(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder sb = new StringBuilder("\"");
    int limit = Math.min(s.length(), 400);
    for (int i = 0; i < limit; i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c >= 0x20 && c < 0x7f) {
        sb.append(c);
      } else {
        sb.append(String.format("\\u%04x", (int) c));
      }
    }
    if (s.length() > limit) {
      sb.append("...(").append(s.length()).append(" chars)");
    }
    return sb.append('"').toString();
  }
}
