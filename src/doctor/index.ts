/** The doctor: whether this machine can run the later stages (engine, emulation, disk), each problem with its fix. */
export { type DoctorProblem, type DoctorReport, runDoctor } from './doctor.js';
