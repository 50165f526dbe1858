package dev.reins.protocol.api;

import java.util.List;

/** A page of the global feed: its events, and the offset to ask for the next page with ({@code after=<next>}). */
public record FeedPage(List<FeedEvent> events, String next) {
  public FeedPage {
    events = List.copyOf(events);
  }
}
