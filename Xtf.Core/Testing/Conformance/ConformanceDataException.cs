namespace Xtf.Core.Testing.Conformance;

/// <summary>
/// Conformance input that cannot be used: a malformed or truncated MOO file, an unreadable
/// <c>metadata.json</c> or revocation list. The message names the file and what is wrong with it.
/// </summary>
public class ConformanceDataException : Exception
{
    public ConformanceDataException(string message)
        : base(message)
    {
    }

    public ConformanceDataException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>A MOO file that does not follow the format (SingleStepTests MOO, version 1).</summary>
public sealed class MooFormatException : ConformanceDataException
{
    public MooFormatException(string message)
        : base(message)
    {
    }

    public MooFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
