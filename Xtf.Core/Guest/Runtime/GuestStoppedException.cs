namespace Xtf.Core.Guest.Runtime;

/// <summary>
/// Unwinds the host side of a guest (the test's C# frames) once the machine has stopped:
/// shutdown, triple fault, budget, timeout. Tests must not catch it.
/// </summary>
public sealed class GuestStoppedException : Exception
{
    /// <summary>Carries <paramref name="reason"/>, the text reported as the guest's exit reason.</summary>
    public GuestStoppedException(string reason)
        : base(reason)
    {
    }
}
