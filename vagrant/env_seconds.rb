# frozen_string_literal: true

# labctl: the settings of the Ruby files the rendered Vagrantfile loads on
# docker (labctl-docker-listing.rb's LABCTL_LISTING_TTL, labctl-ssh-wait.rb's
# LABCTL_SSH_WAIT_PAUSE) are seconds from the environment. They are read here,
# once for all of them, so they agree on what a bad value does. The
# Vagrantfile loads this file before the files that use it.
module LabctlEnvSeconds
  # The seconds in variable `name`, `default` when it is unset. A value that
  # is not a number >= 0 falls back to the default rather than stopping
  # Vagrant: a typo in a tuning knob must not fail a `vagrant up`.
  def self.read(name, default)
    value = Float(ENV.fetch(name, default.to_s))
    value >= 0 ? value : default
  rescue ArgumentError
    default
  end
end
