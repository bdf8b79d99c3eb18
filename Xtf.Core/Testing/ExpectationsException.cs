namespace Xtf.Core.Testing;

/// <summary>An expectations file (<c>--expect</c>) that cannot be used; the message names the line.</summary>
public sealed class ExpectationsException : Exception
{
    /// <summary>An expectations error with its message.</summary>
    public ExpectationsException(string message)
        : base(message)
    {
    }
}
