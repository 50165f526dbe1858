package dev.reins.client;

/**
 * A request that did not get an answer from the API: the server could not be reached, the
 * connection broke, or the answer could not be read. {@link ReinsApiException} is the server's
 * own refusal.
 */
public class ReinsException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ReinsException(String message, Throwable cause) {
    super(message, cause);
  }

  public ReinsException(String message) {
    super(message);
  }
}
