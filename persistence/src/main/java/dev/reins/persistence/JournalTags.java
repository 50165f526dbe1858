package dev.reins.persistence;

import java.util.List;
import java.util.stream.IntStream;

/**
 * The tags that make the global feed: every event of a run or a delegation carries one slice tag,
 * chosen by its persistence id, so that {@code eventsByTag} reads the whole journal slice by slice
 * and no single tag is a hot spot (the tag table's rows and the readers' queries spread over the
 * slices). All events of one persistence id are in one slice, in order.
 *
 * <p>The number of slices is part of the journal format: changing it would move new events of an
 * existing run to another slice than its old ones.
 */
public final class JournalTags {
  public static final int SLICES = 8;
  private static final String PREFIX = "reins-";

  private JournalTags() {}

  /** The slice tag of every event of {@code persistenceId} ({@link String#hashCode} is specified, so stable). */
  public static String sliceOf(String persistenceId) {
    return PREFIX + Math.floorMod(persistenceId.hashCode(), SLICES);
  }

  public static List<String> all() {
    return IntStream.range(0, SLICES).mapToObj(i -> PREFIX + i).toList();
  }
}
