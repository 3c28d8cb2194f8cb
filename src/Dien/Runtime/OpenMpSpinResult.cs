namespace Dien.Runtime;

/// <summary>What <see cref="OpenMpSpin.Shorten"/> did.</summary>
public enum OpenMpSpinResult
{
    /// <summary><c>GOMP_SPINCOUNT</c> was set; libgomp reads it when libtorch loads.</summary>
    Applied,

    /// <summary>The user already set <c>GOMP_SPINCOUNT</c> or <c>OMP_WAIT_POLICY</c>; left as it is.</summary>
    AlreadySet,

    /// <summary>libtorch (and libgomp) are already loaded and have read their environment: call it before the first TorchSharp call.</summary>
    TooLate,

    /// <summary>Not Linux: libtorch uses another OpenMP runtime there; nothing was changed.</summary>
    NotLinux,

    /// <summary>The C library could not be reached or refused to set the variable; nothing was changed.</summary>
    Failed,
}
