package dev.reins.protocol.api;

import java.util.List;

/** One page of {@code GET /v1/runs}; {@code next} is the cursor of the next page, null on the last. */
public record RunPage(List<RunSummary> runs, String next) {
  public RunPage {
    runs = List.copyOf(runs);
  }
}
