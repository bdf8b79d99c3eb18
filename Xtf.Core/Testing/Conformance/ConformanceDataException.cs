namespace Xtf.Core.Testing.Conformance;

/// <summary>
/// Conformance input that cannot be used: a malformed or truncated MOO file, an unreadable
/// <c>metadata.json</c> or revocation list. The message names the file and what is wrong with it.
/// </summary>
public class ConformanceDataException : Exception
{
    /// <summary>Creates the error; <paramref name="message"/> starts with the file's path.</summary>
    public ConformanceDataException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the error for an I/O, gzip or JSON failure <paramref name="inner"/>; <paramref name="message"/> starts with the file's path.</summary>
    public ConformanceDataException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>A MOO file that does not follow the format (SingleStepTests MOO, version 1).</summary>
public sealed class MooFormatException : ConformanceDataException
{
    /// <summary>Creates the error; <paramref name="message"/> names the file and, where known, the test, chunk and byte offset.</summary>
    public MooFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the error for a gzip failure <paramref name="inner"/>; <paramref name="message"/> names the file.</summary>
    public MooFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
