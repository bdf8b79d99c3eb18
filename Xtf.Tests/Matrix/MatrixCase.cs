using Xtf.Core.Testing;
using Xtf.Core.Xen;

namespace Xtf.Tests.Matrix;

/// <summary>
/// One NUnit case of the instance matrix: an instance, on a hypervisor with or without hvm_fep,
/// under the run's quirks, and the result its console log must end with.
/// </summary>
public sealed record MatrixCase(TestInstance Instance, bool Fep, IReadOnlySet<Quirk> Quirks)
{
    /// <summary>The result an expectations file lists for this instance, which <see cref="Expected"/> then is.</summary>
    public TestResult? Listed { get; init; }

    /// <summary>
    /// DESIGN.md section 6: an instance guarding a quirk that is on must report FAILURE; every
    /// other instance SUCCESS; unless an expectations file lists the instance. Without hvm_fep, a
    /// test that needs the emulator may SKIP instead (see <see cref="CatalogInstanceTests"/>).
    /// </summary>
    public TestResult Expected => Listed ?? (Instance.Test.Guards.Any(Quirks.Contains) ? TestResult.Failure : TestResult.Success);

    /// <summary>The case's NUnit name: the instance id, with <c>without FEP</c> on a hypervisor without hvm_fep.</summary>
    public string Name => Fep ? Instance.Id : Instance.Id + " without FEP";

    /// <summary>The file name of this case's console log in a logs directory: <c>&lt;id&gt;.log</c>, under <c>without-fep/</c> for hvm_fep off.</summary>
    public string LogPath => Fep ? Instance.Id + ".log" : Path.Combine("without-fep", Instance.Id + ".log");

    public override string ToString() => Name;
}
