package dev.reins.persistence.feed;

import dev.reins.persistence.JournalTags;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Base64;

/**
 * A position in the global feed: for each tag slice, the journal {@code ordering} of the last
 * event of that slice the reader has been given (0: none yet). Slices are read with {@code
 * eventsByTag}, each strictly in its own order, so a position made of one number per slice is
 * exact however the slices' events were interleaved: resuming from it repeats nothing and skips
 * nothing (see {@link JournalFeed} for why one number is not enough).
 *
 * <p>Clients see it as an opaque base64url token: a version byte, then one unsigned varint per slice.
 */
public final class FeedOffset {
  private static final byte VERSION = 1;
  public static final FeedOffset START = new FeedOffset(new long[JournalTags.SLICES]);

  private final long[] orderings;

  private FeedOffset(long[] orderings) {
    this.orderings = orderings;
  }

  /** The ordering of the last event of {@code slice} already read. */
  public long of(int slice) {
    return orderings[slice];
  }

  /** This position with {@code slice} advanced to {@code ordering}. */
  public FeedOffset with(int slice, long ordering) {
    long[] next = orderings.clone();
    next[slice] = ordering;
    return new FeedOffset(next);
  }

  public String encode() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(1 + orderings.length * 4);
    out.write(VERSION);
    for (long v : orderings) {
      long rest = v;
      while ((rest & ~0x7FL) != 0) {
        out.write((int) ((rest & 0x7F) | 0x80));
        rest >>>= 7;
      }
      out.write((int) rest);
    }
    return Base64.getUrlEncoder().withoutPadding().encodeToString(out.toByteArray());
  }

  /** Reads a token of {@link #encode}; anything else is an {@link IllegalArgumentException}. */
  public static FeedOffset parse(String token) {
    byte[] bytes;
    try {
      bytes = Base64.getUrlDecoder().decode(token.trim());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not an offset of this feed (use a next or offset value the feed gave)");
    }
    if (bytes.length == 0 || bytes[0] != VERSION || bytes.length > 1 + JournalTags.SLICES * 10) {
      throw new IllegalArgumentException("not an offset of this feed (use a next or offset value the feed gave)");
    }
    long[] values = new long[JournalTags.SLICES];
    int pos = 1;
    for (int slice = 0; slice < values.length; slice++) {
      long v = 0;
      int shift = 0;
      while (true) {
        if (pos >= bytes.length || shift > 56) {
          throw new IllegalArgumentException("not an offset of this feed (use a next or offset value the feed gave)");
        }
        byte b = bytes[pos++];
        v |= (long) (b & 0x7F) << shift;
        if ((b & 0x80) == 0) {
          break;
        }
        shift += 7;
      }
      if (v < 0) {
        throw new IllegalArgumentException("not an offset of this feed (use a next or offset value the feed gave)");
      }
      values[slice] = v;
    }
    if (pos != bytes.length) {
      throw new IllegalArgumentException("not an offset of this feed (use a next or offset value the feed gave)");
    }
    return new FeedOffset(values);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FeedOffset other && Arrays.equals(orderings, other.orderings);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(orderings);
  }

  @Override
  public String toString() {
    return "FeedOffset" + Arrays.toString(orderings);
  }
}
