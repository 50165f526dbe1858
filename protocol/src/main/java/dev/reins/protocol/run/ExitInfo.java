package dev.reins.protocol.run;

/**
 * How an attempt ended. {@code code} is the exit status when the process exited by itself, {@code
 * signal} the signal name when it was killed by one; {@code reason} is a stable word ({@code
 * exited}, {@code start_failed}, {@code worker_lost}) and {@code message} free text for humans.
 */
public record ExitInfo(Integer code, String signal, String reason, String message) {}
