package dev.reins.runtime.delegation;

import dev.reins.protocol.delegation.DelegationResult;
import dev.reins.protocol.json.ReinsJson;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Keeps a delegation's result under the cap: whole parts while they fit, then one cut text part. */
final class DelegationResults {
  private DelegationResults() {}

  static DelegationResult cap(DelegationResult result, long capBytes) {
    if (result == null) {
      return null;
    }
    List<DelegationResult.Part> kept = new ArrayList<>();
    long used = 0;
    boolean truncated = result.truncated();
    for (DelegationResult.Part p : result.parts()) {
      long size = size(p);
      if (used + size <= capBytes) {
        kept.add(p);
        used += size;
        continue;
      }
      truncated = true;
      long room = capBytes - used;
      if (p.text() != null && room > 0) {
        kept.add(new DelegationResult.Part(p.artifact(), cut(p.text(), (int) room), null));
      }
      break;
    }
    return new DelegationResult(kept, result.child(), truncated);
  }

  private static long size(DelegationResult.Part p) {
    if (p.text() != null) {
      return p.text().getBytes(StandardCharsets.UTF_8).length;
    }
    try {
      return ReinsJson.mapper().writeValueAsBytes(p.data()).length;
    } catch (Exception e) {
      return Long.MAX_VALUE / 4;
    }
  }

  /** The longest prefix of {@code text} whose UTF-8 form fits in {@code bytes}. */
  private static String cut(String text, int bytes) {
    byte[] all = text.getBytes(StandardCharsets.UTF_8);
    if (all.length <= bytes) {
      return text;
    }
    int end = bytes;
    while (end > 0 && (all[end] & 0xC0) == 0x80) {
      end--; // do not split a character
    }
    return new String(all, 0, end, StandardCharsets.UTF_8);
  }
}
