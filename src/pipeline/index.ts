export * from './options';
export * from './training-pipeline';
export { GATE_SCRIPT, VALIDATE_SCRIPT, REGISTER_SCRIPT, TRIGGER_SCRIPT } from './scripts';
