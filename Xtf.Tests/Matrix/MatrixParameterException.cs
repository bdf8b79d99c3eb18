namespace Xtf.Tests.Matrix;

/// <summary>A <c>TestRunParameters</c> value the matrix cannot use: the parameter's name and what is wrong with it.</summary>
public sealed class MatrixParameterException : Exception
{
    public MatrixParameterException(string parameter, string message)
        : base(message)
    {
        Parameter = parameter;
    }

    /// <summary>The <c>TestRunParameters</c> name whose value is bad.</summary>
    public string Parameter { get; }
}
