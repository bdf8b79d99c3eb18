namespace Xtf.TestCases;

/// <summary>Names this assembly for composition roots: <c>AddXtf(typeof(TestCasesAssembly).Assembly)</c>.</summary>
public static class TestCasesAssembly
{
}
